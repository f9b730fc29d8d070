"""Importer: result folders in the official nnU-Net v2 (and v2.1 / nnSAM fork) layout -> ONNX + manifest,
checked against PyTorch with onnxruntime-node."""

import json
import os
import tempfile
import unittest

import numpy as np
import onnx
import torch

from training.export import sha256, write_manifest
from training.importer import import_folder, imported_manifest
from training.nets.plain_conv_unet import PlainConvUNet, config_from_plans
from training.tests.helpers import TINY_DATASET_JSON, tiny_plans


def write_official_folder(root: str, plans: dict, folds=(0,), levelset: bool = False) -> None:
    """What nnUNetv2_train leaves behind: plans.json, dataset.json, fold_N/checkpoint_final.pth."""
    with open(os.path.join(root, 'plans.json'), 'w') as f:
        json.dump(plans, f)
    with open(os.path.join(root, 'dataset.json'), 'w') as f:
        json.dump(TINY_DATASET_JSON, f)
    for fold in folds:
        torch.manual_seed(fold)
        net = PlainConvUNet(config_from_plans(plans, 2, levelset_head=levelset))
        for m in net.modules():  # non-trivial norm parameters, as a trained net has
            if isinstance(m, torch.nn.InstanceNorm2d):
                torch.nn.init.uniform_(m.weight, 0.5, 1.5)
                torch.nn.init.uniform_(m.bias, -0.2, 0.2)
        os.makedirs(os.path.join(root, f'fold_{fold}'))
        torch.save({'network_weights': net.state_dict(), 'optimizer_state': None, 'current_epoch': 1000,
                    'init_args': {'plans': plans, 'configuration': '2d', 'fold': fold,
                                  'dataset_json': TINY_DATASET_JSON},
                    'trainer_name': 'nnUNetTrainer', 'inference_allowed_mirroring_axes': (0, 1)},
                   os.path.join(root, f'fold_{fold}', 'checkpoint_final.pth'))


def onnx_io(path: str):
    g = onnx.load(path).graph
    return [i.name for i in g.input], [o.name for o in g.output]


class ImporterTest(unittest.TestCase):
    def test_official_v2_two_folds(self):
        with tempfile.TemporaryDirectory() as src, tempfile.TemporaryDirectory() as out:
            write_official_folder(src, tiny_plans(), folds=(0, 1))
            r = import_folder(src, out, folds=(0, 1))
            self.assertEqual(sorted(r['files']), ['model_fold0.fp16.onnx', 'model_fold0.onnx',
                                                  'model_fold1.fp16.onnx', 'model_fold1.onnx'])
            self.assertEqual(onnx_io(os.path.join(out, 'model_fold1.onnx')), (['input'], ['logits']))
            worst = max(v for p in r['parity'].values() for c in p.values() for v in c.values())
            self.assertLessEqual(worst, 1e-4)
            self.assertEqual(r['mirroring'], [0, 1])
            m = imported_manifest('tiny', r, [0, 1], src, 'test', '2.0.1')
            write_manifest(out, m)
            with open(os.path.join(out, 'manifest.json')) as f:
                man = json.load(f)
            self.assertEqual([o['name'] for o in man['onnx']['outputs']], ['logits'])
            self.assertEqual(man['inference']['folds'], [0, 1])
            # Official folders were read by nnU-Net's NibabelIO / SimpleITK: A[z, y, x].
            self.assertEqual(man['inference']['array_axes'], 'nnunet')
            self.assertEqual(man['inference']['postprocessing'],
                             {'keep_largest_foreground': False, 'keep_largest_labels': []})
            self.assertEqual((man['version'], man['modality']), ('2.0.1', list(r['dataset']['channel_names'].values())))
            self.assertEqual(man['files']['model_fold0.onnx']['sha256'], sha256(os.path.join(out, 'model_fold0.onnx')))
            self.assertLess(man['files']['model_fold0.fp16.onnx']['bytes'], man['files']['model_fold0.onnx']['bytes'])

    def test_v21_fields_and_levelset_head(self):
        p = tiny_plans()
        c = p['configurations']['2d']
        del c['architecture']
        c.update({'UNet_base_num_features': 8, 'unet_max_num_features': 64, 'n_conv_per_stage_encoder': [2] * 5,
                  'n_conv_per_stage_decoder': [2] * 4, 'conv_kernel_sizes': [[3, 3]] * 5,
                  'pool_op_kernel_sizes': [[1, 1]] + [[2, 2]] * 4})
        with tempfile.TemporaryDirectory() as src, tempfile.TemporaryDirectory() as out:
            write_official_folder(src, p, levelset=True)
            r = import_folder(src, out, fp16=False)
            self.assertEqual(onnx_io(os.path.join(out, 'model.onnx')), (['input'], ['logits', 'levelset']))
            self.assertLessEqual(r['parity']['model.onnx']['random']['levelset'], 1e-4)

    def test_mismatched_topology_is_refused(self):
        with tempfile.TemporaryDirectory() as src, tempfile.TemporaryDirectory() as out:
            write_official_folder(src, tiny_plans())
            p = tiny_plans(feats=(8, 16, 32, 64, 128))
            with open(os.path.join(src, 'plans.json'), 'w') as f:
                json.dump(p, f)
            with self.assertRaises((KeyError, RuntimeError)):
                import_folder(src, out)

    def test_real_like_patch_parity(self):
        with tempfile.TemporaryDirectory() as src, tempfile.TemporaryDirectory() as out:
            write_official_folder(src, tiny_plans())
            x = np.zeros((1, 1, 64, 64), np.float32)
            x[0, 0, 8:56, 8:56] = np.random.default_rng(0).normal(0, 1, (48, 48))
            r = import_folder(src, out, fp16=False, real_patches=x)
            self.assertLessEqual(r['parity']['model.onnx']['real']['logits'], 1e-4)


if __name__ == '__main__':
    unittest.main()
