"""`train.py --init RELEASE`: a fine-tune starts from a release folder's ONNX weights, checked against its
PyTorch golden, and refuses a release planned differently or whose weights do not reproduce the golden."""

import json
import os
import shutil
import tempfile
import unittest

import numpy as np
import torch

from training import train
from training.importer import import_folder
from training.tests.helpers import write_synthetic_dataset

BUDGET = {'max_patch_pixels': 32 * 32, 'base_features': 4, 'max_features': 16, 'batch_size': 2}


def _train(ds, runs, model_id, iters, *extra, budget=BUDGET):
    return train.main(['--dataset', ds, '--model-id', model_id, '--val-case', 'c1', '--iters', str(iters),
                       '--val-every', '50', '--budget', json.dumps(budget), '--runs', runs, '--no-final-eval',
                       '--threads', '1', *extra])


def _release(run, out):
    """A release folder as training.release lays one out, reduced to what --init reads: model.onnx,
    plans.json and the PyTorch golden (parity/input.npy, parity/logits.npy)."""
    r = import_folder(run, out, fp16=False)
    shutil.copyfile(os.path.join(run, 'plans.json'), os.path.join(out, 'plans.json'))
    x = np.random.default_rng(3).standard_normal((2, 1, 32, 32)).astype(np.float32)
    net = r['net'].eval()
    with torch.no_grad():
        out_ = net(torch.from_numpy(x))
    seg = out_[0] if isinstance(out_, (list, tuple)) else out_
    seg = seg[0] if isinstance(seg, (list, tuple)) else seg
    os.makedirs(os.path.join(out, 'parity'), exist_ok=True)
    np.save(os.path.join(out, 'parity', 'input.npy'), x)
    np.save(os.path.join(out, 'parity', 'logits.npy'), seg.numpy())


def _weights(run):
    return torch.load(os.path.join(run, 'fold_0', 'checkpoint_final.pth'), map_location='cpu')['network_weights']


class FineTuneInitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.ds = write_synthetic_dataset(os.path.join(d, 'raw'))
        cls.runs = os.path.join(d, 'runs')
        cls.base = _train(cls.ds, cls.runs, 'base', 4)
        cls.release = os.path.join(d, 'release')
        _release(cls.base, cls.release)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_starts_from_the_release_weights(self):
        # Zero steps: the final checkpoint holds the weights as loaded.
        run = _train(self.ds, self.runs, 'tuned', 0, '--init', self.release, '--seed', '5')
        base, tuned = _weights(self.base), _weights(run)
        # Every weight but the lower deep-supervision heads, which the export leaves out.
        heads = sorted({int(k.split('.')[2]) for k in base if k.startswith('decoder.seg_layers.')})
        lower = tuple(f'decoder.seg_layers.{i}.' for i in heads[:-1])
        self.assertTrue(lower)
        exported = [k for k in base if not k.startswith(lower)]
        for k in exported:
            torch.testing.assert_close(tuned[k], base[k], rtol=0, atol=0, msg=k)

    def test_refuses_a_release_planned_differently(self):
        other = {**BUDGET, 'base_features': 8}
        with self.assertRaisesRegex(SystemExit, 'planned differently'):
            _train(self.ds, self.runs, 'other', 0, '--init', self.release, budget=other)

    def test_refuses_weights_that_miss_the_golden(self):
        bad = os.path.join(self.tmp.name, 'bad')
        shutil.copytree(self.release, bad)
        g = np.load(os.path.join(bad, 'parity', 'logits.npy'))
        np.save(os.path.join(bad, 'parity', 'logits.npy'), g + 1e-3)
        with self.assertRaisesRegex(SystemExit, 'parity golden'):
            _train(self.ds, self.runs, 'bad', 0, '--init', bad)


if __name__ == '__main__':
    unittest.main()
