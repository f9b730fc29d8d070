"""The manifest's `inference.refine` (the model's --refine settings, tuned by bench/refine.ts): written when
given, absent otherwise, refused where the engine's checkManifest would refuse it."""

import unittest

from training.export import manifest_dict
from training.nets.plain_conv_unet import PlainConvUNet, config_from_plans
from training.tests.helpers import TINY_DATASET_JSON, tiny_plans


def manifest(levelset: bool, **extra) -> dict:
    plans = tiny_plans()
    net = PlainConvUNet(config_from_plans(plans, 2, levelset_head=levelset))
    return manifest_dict('tiny', plans, TINY_DATASET_JSON, {}, net, extra)


class ManifestRefineTest(unittest.TestCase):
    def test_written_when_given_and_absent_otherwise(self):
        self.assertNotIn('refine', manifest(True)['inference'])
        m = manifest(True, refine={'levelset_weight': 0.25, 'iterations': 2, 'band_voxels': 6, 'dt_fraction': 1})
        self.assertEqual(m['inference']['refine'],
                         {'levelset_weight': 0.25, 'iterations': 2, 'band_voxels': 6, 'dt_fraction': 1})
        self.assertEqual(manifest(True, refine={'iterations': 0, 'levelset_weight': 1})['inference']['refine'],
                         {'levelset_weight': 1, 'iterations': 0})

    def test_refused_as_the_engine_refuses(self):
        bad = [
            ({'levelset_weight': 0.5, 'iterations': 5}, False, 'needs a level-set head'),
            ({'iterations': 5}, True, 'levelset_weight must be in'),
            ({'levelset_weight': 1.5, 'iterations': 5}, True, 'levelset_weight must be in'),
            ({'levelset_weight': True, 'iterations': 5}, True, 'levelset_weight must be in'),
            ({'levelset_weight': 0.5, 'iterations': 2.5}, True, 'iterations must be a non-negative integer'),
            ({'levelset_weight': 0.5, 'iterations': -1}, True, 'iterations must be a non-negative integer'),
            ({'levelset_weight': 0.5, 'iterations': 5, 'band_voxels': 0}, True, 'band_voxels must be a positive number'),
            ({'levelset_weight': 0.5, 'iterations': 5, 'dt_fraction': 1.2}, True, 'dt_fraction must be in'),
            ({'levelset_weight': 0.5, 'iterations': 5, 'dt': 0.1}, True, 'unknown keys'),
        ]
        for refine, levelset, message in bad:
            with self.subTest(refine=refine, levelset=levelset):
                with self.assertRaisesRegex(ValueError, message):
                    manifest(levelset, refine=refine)


if __name__ == '__main__':
    unittest.main()
