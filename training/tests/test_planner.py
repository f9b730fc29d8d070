"""Fingerprint and plans on the shared brain-wm data, and the planner's rules on synthetic fingerprints."""

import unittest

from training.io_utils import read_dataset_json
from training.planner import fingerprint, plan_2d
from training.tests.helpers import DATASET


class PlannerOnSharedDataTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fp = fingerprint(DATASET, ['fsA', 'mni152'])
        cls.plans = plan_2d(cls.fp, read_dataset_json(DATASET),
                            {'base_features': 16, 'max_features': 256, 'batch_size': 8})

    def test_fingerprint(self):
        self.assertEqual(self.fp['shapes_before_crop'][0], [256, 256, 256])
        self.assertTrue(all(abs(s - 1.0) < 1e-3 for sp in self.fp['spacings'] for s in sp))
        p = self.fp['foreground_intensity_properties_per_channel']['0']
        self.assertLess(p['percentile_00_5'], p['median'])
        self.assertLess(p['median'], p['percentile_99_5'])
        # Cropping to the non-zero region shrinks these skull-stripped volumes a lot.
        for before, after in zip(self.fp['shapes_before_crop'], self.fp['shapes_after_crop']):
            self.assertTrue(all(a < b for a, b in zip(after, before)))

    def test_plans(self):
        c = self.plans['configurations']['2d']
        self.assertEqual(self.plans['transpose_forward'], [0, 1, 2])
        self.assertTrue(all(abs(s - 1.0) < 1e-5 for s in c['spacing']))  # float32 header noise
        self.assertEqual(c['normalization_schemes'], ['ZScoreNormalization'])
        self.assertEqual(c['use_mask_for_norm'], [True])
        self.assertLessEqual(c['patch_size'][0] * c['patch_size'][1], 128 * 128)
        a = c['architecture']['arch_kwargs']
        self.assertEqual(a['features_per_stage'][0], 16)
        self.assertLessEqual(max(a['features_per_stage']), 256)
        # Every axis is pooled down to a 4-voxel bottleneck at most.
        for ax in range(2):
            red = 1
            for s in a['strides']:
                red *= s[ax]
            self.assertEqual(c['patch_size'][ax] % red, 0)
            self.assertGreaterEqual(c['patch_size'][ax] // red, 4)


class PlannerRulesTest(unittest.TestCase):
    def fp(self, spacing, shape):
        return {'spacings': [spacing] * 2, 'shapes_before_crop': [shape] * 2, 'shapes_after_crop': [shape] * 2,
                'foreground_intensity_properties_per_channel': {'0': {'mean': 0.0}}}

    def test_anisotropic_axis_goes_first(self):
        p = plan_2d(self.fp([1.0, 1.0, 3.0], [200, 180, 40]), {'channel_names': {'0': 'T1'}})
        self.assertEqual(p['transpose_forward'], [2, 0, 1])
        self.assertEqual(p['transpose_backward'], [1, 2, 0])
        c = p['configurations']['2d']
        self.assertEqual(c['spacing'], [3.0, 1.0, 1.0])
        self.assertEqual(c['use_mask_for_norm'], [False])  # nothing was cropped

    def test_ct_and_coarser_spacing_budget(self):
        p = plan_2d(self.fp([1.0, 0.5, 0.5], [100, 400, 400]), {'channel_names': {'0': 'CT'}},
                    {'min_spacing_mm': 1.0, 'max_patch_pixels': 256 * 256})
        c = p['configurations']['2d']
        self.assertEqual(c['normalization_schemes'], ['CTNormalization'])
        self.assertEqual(c['spacing'], [1.0, 1.0, 1.0])
        self.assertEqual(c['patch_size'], [224, 224])  # 400 voxels at 0.5 mm = 200 at 1 mm, rounded up


if __name__ == '__main__':
    unittest.main()
