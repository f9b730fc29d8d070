"""The trainer end to end on a synthetic dataset for a few steps: run-folder layout, log, checkpoint,
and the importer reading the result."""

import json
import os
import tempfile
import unittest

import torch

from training import train
from training.importer import import_folder
from training.tests.helpers import write_synthetic_dataset

BUDGET = json.dumps({'max_patch_pixels': 32 * 32, 'base_features': 4, 'max_features': 16, 'batch_size': 2})


class TrainerTest(unittest.TestCase):
    def test_few_steps_then_import(self):
        with tempfile.TemporaryDirectory() as d:
            ds = write_synthetic_dataset(os.path.join(d, 'raw'))
            run = train.main(['--dataset', ds, '--model-id', 'tiny', '--val-case', 'c1', '--iters', '4',
                              '--val-every', '50', '--budget', BUDGET, '--runs', os.path.join(d, 'runs'),
                              '--no-final-eval', '--threads', '1'])
            for rel in ('plans.json', 'dataset.json', 'fold_0/checkpoint_final.pth', 'fold_0/training_log.jsonl'):
                self.assertTrue(os.path.exists(os.path.join(run, rel)), rel)
            with open(os.path.join(run, 'plans.json')) as f:
                plans = json.load(f)
            self.assertEqual(plans['configurations']['2d']['patch_size'], [32, 32])
            ck = torch.load(os.path.join(run, 'fold_0', 'checkpoint_final.pth'), map_location='cpu')
            for k in ('network_weights', 'init_args', 'trainer_name', 'inference_allowed_mirroring_axes'):
                self.assertIn(k, ck)
            self.assertEqual(ck['init_args']['configuration'], '2d')
            with open(os.path.join(run, 'fold_0', 'training_log.jsonl')) as f:
                log = [json.loads(line) for line in f]
            self.assertEqual(log[0]['train_cases'], ['c0'])  # the validation case is held out
            r = import_folder(run, os.path.join(d, 'model'), fp16=False)
            self.assertLessEqual(r['parity']['model.onnx']['random']['logits'], 1e-4)


if __name__ == '__main__':
    unittest.main()
