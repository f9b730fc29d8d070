"""Shapes, the no-SAM switch, the nnSAM fusion and the frozen encoder."""

import unittest

import torch

from training.nets.factory import build_network
from training.nets.nnsam import NnSam
from training.nets.plain_conv_unet import PlainConvUNet, UNetConfig, config_from_plans, load_nnunet_weights
from training.tests.helpers import tiny_plans


class PlainConvUNetTest(unittest.TestCase):
    def test_deep_supervision_and_levelset_shapes(self):
        net = build_network(tiny_plans(), 2, sam=False)
        seg, ls = net(torch.randn(2, 1, 64, 64))
        self.assertEqual([tuple(s.shape) for s in seg], [(2, 2, 64, 64), (2, 2, 32, 32), (2, 2, 16, 16),
                                                         (2, 2, 8, 8)])
        self.assertEqual(tuple(ls.shape), (2, 1, 64, 64))
        self.assertLessEqual(float(ls.abs().max()), 1.0)  # tanh-scaled

    def test_topology_follows_nnunet_conventions(self):
        net = PlainConvUNet(UNetConfig(features_per_stage=[32, 64, 128, 256, 512, 512]))
        conv = net.encoder.stages[1][0].convs[0]
        self.assertEqual(conv.conv.stride, (2, 2))
        self.assertIsInstance(conv.norm, torch.nn.InstanceNorm2d)
        self.assertTrue(conv.norm.affine)
        self.assertEqual(conv.norm.eps, 1e-5)
        self.assertAlmostEqual(conv.nonlin.negative_slope, 0.01)
        self.assertIsInstance(net.decoder.transpconvs[0], torch.nn.ConvTranspose2d)

    def test_official_key_layout_loads_strictly(self):
        cfg = config_from_plans(tiny_plans(), 2, levelset_head=False)
        official = PlainConvUNet(cfg).state_dict()
        self.assertIn('encoder.stages.0.0.convs.0.conv.weight', official)
        self.assertIn('encoder.stages.0.0.convs.0.all_modules.0.weight', official)
        self.assertIn('decoder.encoder.stages.0.0.convs.0.norm.weight', official)
        self.assertIn('decoder.seg_layers.3.weight', official)
        ours = PlainConvUNet(config_from_plans(tiny_plans(), 2))
        load_nnunet_weights(ours, official)  # only the level-set head may be missing
        official.pop('decoder.seg_layers.0.weight')
        with self.assertRaises(KeyError):
            load_nnunet_weights(ours, official)

    def test_v21_plans_fields(self):
        p = tiny_plans()
        c = p['configurations']['2d']
        del c['architecture']
        c.update({'UNet_base_num_features': 8, 'unet_max_num_features': 64, 'n_conv_per_stage_encoder': [2] * 5,
                  'n_conv_per_stage_decoder': [2] * 4, 'conv_kernel_sizes': [[3, 3]] * 5,
                  'pool_op_kernel_sizes': [[1, 1]] + [[2, 2]] * 4})
        self.assertEqual(config_from_plans(p, 2).features_per_stage, [8, 16, 32, 64, 64])


class NnSamTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.manual_seed(0)
        cfg = config_from_plans(tiny_plans(), 2)
        cls.net = NnSam(cfg, img_size=256)  # 256 keeps the test fast; vit_t proper uses 1024

    def test_fusion_at_skip_3(self):
        stage = self.net.unet.decoder.stages[0]  # consumes skip 3 of a 5-stage encoder
        self.assertEqual(stage.convs[0].conv.in_channels, 2 * 64 + 256)
        seg, ls = self.net(torch.randn(1, 1, 64, 64))
        self.assertEqual(tuple(seg[0].shape), (1, 2, 64, 64))
        self.assertEqual(tuple(ls.shape), (1, 1, 64, 64))

    def test_encoder_frozen_and_in_eval_mode(self):
        self.net.train()
        self.assertFalse(self.net.image_encoder.training)
        self.assertTrue(self.net.unet.training)
        self.assertTrue(all(not p.requires_grad for p in self.net.image_encoder.parameters()))
        before = self.net.image_encoder.patch_embed.seq[0].bn.running_mean.clone()
        seg, ls = self.net(torch.randn(2, 1, 64, 64) * 3 + 1)
        (seg[0].mean() + ls.mean()).backward()
        self.assertTrue(torch.equal(before, self.net.image_encoder.patch_embed.seq[0].bn.running_mean))
        self.assertIsNotNone(self.net.unet.encoder.stages[0][0].convs[0].conv.weight.grad)
        self.net.eval()


if __name__ == '__main__':
    unittest.main()
