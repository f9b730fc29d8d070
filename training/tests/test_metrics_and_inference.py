"""Metrics (docs/metrics.md), preprocessing and sliding-window details, sampling and the k-means baseline."""

import unittest

import numpy as np
import torch

from training.augment import BatchSampler
from training.kmeans_baseline import kmeans_wm
from training.metrics import dice, evaluate, surface
from training.predict import gaussian_map, predict_volume, window_starts
from training.preprocessing import normalize, nonzero_bbox
from training.tests.helpers import tiny_plans
from training.nets.factory import build_network


class MetricsTest(unittest.TestCase):
    def test_dice(self):
        a = np.zeros((10, 10), bool)
        a[2:6, 2:6] = True
        b = np.zeros_like(a)
        b[2:6, 4:8] = True
        self.assertAlmostEqual(dice(a, b), 2 * 8 / 32)
        self.assertEqual(dice(np.zeros(3), np.zeros(3)), 1.0)

    def test_surface_full_connectivity(self):
        a = np.zeros((7, 7), bool)
        a[1:6, 1:6] = True
        self.assertEqual(int(surface(a).sum()), 16)

    def test_shifted_cube_distances(self):
        a = np.zeros((20, 20, 20), bool)
        a[5:15, 5:15, 5:15] = True
        b = np.roll(a, 1, axis=0)
        r = evaluate(a, b, (2.0, 1.0, 1.0))
        self.assertGreater(r['asd_mm'], 0)
        self.assertLessEqual(r['hd95_mm'], 2.0 + 1e-6)
        self.assertEqual(evaluate(a, a, (1, 1, 1))['asd_mm'], 0.0)


class PreprocessingTest(unittest.TestCase):
    def test_bbox_half_open_and_mask_normalisation(self):
        x = np.zeros((1, 6, 8, 8), np.float32)
        x[0, 1:4, 2:7, 3:5] = np.arange(1, 46).reshape(3, 5, 3)[:, :, :2]
        self.assertEqual(nonzero_bbox(x), [(1, 4), (2, 7), (3, 5)])
        mask = x[0] != 0
        y = normalize(x, mask, ['ZScoreNormalization'], [True], {})
        self.assertAlmostEqual(float(y[0][mask].mean()), 0.0, places=5)
        self.assertTrue((y[0][~mask] == 0).all())

    def test_window_and_gaussian(self):
        self.assertEqual(window_starts(128, 128), [0])
        self.assertEqual(window_starts(200, 128), [0, 36, 72])
        g = gaussian_map([16, 16])
        self.assertAlmostEqual(float(g.max()), 1.0)
        self.assertGreater(float(g.min()), 0.0)
        # nnU-Net centres the map at patch // 2 (a delta there, blurred by gaussian_filter).
        self.assertEqual(np.unravel_index(int(np.argmax(g)), g.shape), (8, 8))
        from scipy.ndimage import gaussian_filter
        delta = np.zeros((16, 16))
        delta[8, 8] = 1
        ref = gaussian_filter(delta, [2, 2], 0, mode='constant', cval=0)
        np.testing.assert_allclose(g, ref / ref.max(), rtol=1e-6)

    def test_predict_volume_round_trip_shape(self):
        torch.manual_seed(0)
        net = build_network(tiny_plans(), 2)
        img = np.zeros((5, 70, 90), np.float32)
        img[1:4, 10:60, 5:85] = np.random.default_rng(0).uniform(10, 100, (3, 50, 80))
        lab = predict_volume(net, img, (1.0, 1.0, 1.0), tiny_plans(), 2, mirror_axes=(0,))
        self.assertEqual(lab.shape, img.shape)
        self.assertTrue((lab[0] == 0).all())  # outside the crop stays background


class SamplingAndBaselineTest(unittest.TestCase):
    def test_sampler_is_seeded_and_oversamples_foreground(self):
        rng = np.random.default_rng(0)
        data = rng.standard_normal((1, 8, 90, 90)).astype(np.float32)
        seg = np.zeros((8, 90, 90), np.uint8)
        seg[3, 40:45, 40:45] = 1
        a = BatchSampler([(data, seg)], [32, 32], 6, 2, seed=3).next()
        b = BatchSampler([(data, seg)], [32, 32], 6, 2, seed=3).next()
        self.assertTrue(np.array_equal(a[0], b[0]))
        self.assertEqual(a[2].shape, (6, 1, 32, 32))
        self.assertTrue(all((s == 1).any() for s in a[1][-2:]))  # the last third is forced foreground

    def test_kmeans_picks_brightest_cluster(self):
        rng = np.random.default_rng(0)
        img = np.concatenate([rng.normal(30, 2, 300), rng.normal(60, 2, 300), rng.normal(90, 2, 300)])
        wm = kmeans_wm(img.reshape(30, 30).astype(np.float32), np.ones((30, 30), bool))
        self.assertEqual(int(wm.sum()), 300)
        self.assertTrue(wm.reshape(-1)[600:].all())


if __name__ == '__main__':
    unittest.main()


class ErrorAnalysisTest(unittest.TestCase):
    def test_components_located_in_ras(self):
        from training.error_analysis import components, describe

        img = np.zeros((30, 30, 30), np.float32)
        img[5:25, 5:25, 5:25] = 1
        ref = np.zeros(img.shape, bool)
        ref[10:20, 10:20, 10:20] = True
        pred = ref.copy()
        pred[10:20, 10:20, 20:23] = True  # extra slab on +axis 2
        r = components(pred, ref, np.diag([1.0, 1.0, 1.0, 1.0]), img)
        self.assertEqual(r['fp'][0]['voxels'], 300)
        self.assertEqual(r['fn'], [])
        self.assertIn('superior', describe(r['fp'][0]['offset_ras_mm']))
