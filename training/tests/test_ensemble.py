"""training/ensemble.py: an ensemble release from released members, and the members it refuses."""

import json
import os
import shutil
import tempfile
import unittest

import numpy as np

from training import ensemble
from training.export import sha256
from training.tests.helpers import REPO

RELEASES = os.path.join(REPO, 'models', 'brain-wm-2d', 'releases')
MEMBERS = [os.path.join(RELEASES, v) for v in ('1.2.0', '2.0.0')]


class EnsembleTest(unittest.TestCase):
    def test_members_become_folds_with_their_goldens_and_the_mean(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, 'brain-wm-2d')
            m = ensemble.build(MEMBERS, '9.9.9', out)
            self.assertEqual((m['version'], m['inference']['folds']), ('9.9.9', [0, 1]))
            self.assertNotIn('edge', m)
            for k, member in enumerate(MEMBERS):
                for suffix in ('.onnx', '.fp16.onnx', '.int8.onnx'):
                    name = ensemble.fold_name(k, suffix)
                    self.assertEqual(sha256(os.path.join(out, name)), sha256(os.path.join(member, f'model{suffix}')))
                    self.assertEqual(m['files'][name]['fold'], k)
            for o in ensemble.GOLDENS:
                mean = np.load(os.path.join(out, 'parity', f'mean_{o}.npy'))
                want = (np.load(os.path.join(MEMBERS[0], 'parity', f'{o}.npy')).astype(np.float64)
                        + np.load(os.path.join(MEMBERS[1], 'parity', f'{o}.npy'))) / 2
                np.testing.assert_allclose(mean, want, atol=1e-6)
            with open(os.path.join(out, 'manifest.json')) as f:
                self.assertEqual(json.load(f)['files']['README.md']['sha256'], sha256(os.path.join(out, 'README.md')))

    def test_refuses_members_with_other_plans(self):
        with tempfile.TemporaryDirectory() as d:
            other = os.path.join(d, 'other')
            shutil.copytree(MEMBERS[1], other)
            with open(os.path.join(other, 'plans.json'), 'a') as f:
                f.write(' ')
            with self.assertRaises(SystemExit) as e:
                ensemble.build([MEMBERS[0], other], '9.9.9', os.path.join(d, 'out'))
            self.assertIn('plans.json', str(e.exception))


if __name__ == '__main__':
    unittest.main()
