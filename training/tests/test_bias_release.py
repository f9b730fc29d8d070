"""training/bias_release.py: the study's chosen estimator becomes the manifest's step, and the shipped
brain-wm-2d 2.2.0 is 2.1.0's networks, plans and goldens byte for byte with that step."""

import json
import os
import tempfile
import unittest

from training.bias_release import build, spec_of
from training.tests.helpers import REPO

RELEASES = os.path.join(REPO, 'models', 'brain-wm-2d', 'releases')
STUDY = os.path.join(REPO, 'bench', 'results', 'bias-field.json')


class BiasReleaseTest(unittest.TestCase):
    def test_only_the_gated_plane_is_a_step(self):
        self.assertEqual(spec_of('gated:0.036:poly:1'),
                         {'method': 'wm_log_poly1', 'label': 1, 'min_field_sd': 0.036})
        for other in ['poly:1', 'gauss:20', 'gated:0.036:poly:2', 'gated:0.036:gauss:30']:
            with self.assertRaises(SystemExit):
                spec_of(other)

    def test_shipped_2_2_0_is_2_1_0_with_the_chosen_step(self):
        with open(os.path.join(RELEASES, '2.2.0', 'manifest.json')) as f:
            shipped = json.load(f)
        with open(os.path.join(RELEASES, '2.1.0', 'manifest.json')) as f:
            base = json.load(f)
        with open(STUDY) as f:
            chosen = json.load(f)['chosen']
        self.assertEqual(shipped['inference']['bias_correction'], spec_of(chosen))
        self.assertEqual({k: v for k, v in shipped['inference'].items() if k != 'bias_correction'},
                         base['inference'])
        for rel, meta in base['files'].items():
            if rel != 'README.md':
                self.assertEqual(shipped['files'][rel]['sha256'], meta['sha256'], rel)
        self.assertEqual(shipped['plans'], base['plans'])

    def test_build_refuses_a_base_that_already_corrects(self):
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaises(SystemExit):
                build(os.path.join(RELEASES, '2.2.0'), '9.9.9', STUDY, os.path.join(tmp, 'out'))


if __name__ == '__main__':
    unittest.main()
