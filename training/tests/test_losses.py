"""DC+CE with deep supervision and the level-set loss: values and gradients."""

import unittest

import numpy as np
import torch

from training.augment import signed_distance
from training.losses import curvature, deep_supervision_loss, ds_weights, levelset_loss, soft_dice, total_loss


def disk(n=64, r=15.0, c=(32, 32)):
    yy, xx = np.mgrid[:n, :n]
    return ((yy - c[0]) ** 2 + (xx - c[1]) ** 2 <= r * r)


class LossTest(unittest.TestCase):
    def test_ds_weights(self):
        w = ds_weights(5)
        self.assertAlmostEqual(sum(w), 1.0)
        self.assertEqual(w[-1], 0.0)
        self.assertAlmostEqual(w[0] / w[1], 2.0)

    def test_perfect_prediction_dice(self):
        t = torch.from_numpy(disk()[None].astype(np.int64))
        logits = torch.stack([(t == 0).float(), (t == 1).float()], 1) * 50
        self.assertAlmostEqual(float(soft_dice(logits, t)), 1.0, places=4)

    def test_deep_supervision_gradients(self):
        t = torch.from_numpy(np.stack([disk(), disk(r=10)]).astype(np.int64))
        outs = [torch.randn(2, 2, 64 // 2**i, 64 // 2**i, requires_grad=True) for i in range(4)]
        loss = deep_supervision_loss(outs, t)
        loss.backward()
        for i, o in enumerate(outs[:-1]):
            self.assertTrue(torch.isfinite(o.grad).all() and o.grad.abs().sum() > 0, i)
        self.assertIsNone(outs[-1].grad)  # the lowest resolution has weight 0 and is skipped

    def test_sdf_sign_and_scale(self):
        m = disk()
        sdf = signed_distance(m)
        self.assertTrue((sdf[m] > 0).all() and (sdf[~m] < 0).all())
        self.assertAlmostEqual(float(sdf[32, 32]), 15.5, delta=1.0)

    def test_curvature_of_a_circle(self):
        sdf = torch.from_numpy(signed_distance(disk(128, 30.0, (64, 64))))[None, None]
        k = curvature(torch.tanh(sdf / 4.0))
        band = (sdf.abs() <= 1.0)
        # Positive inside, so the normal points inwards and div gives -1/r on the contour.
        self.assertAlmostEqual(float(k[band].mean()), -1 / 30.0, delta=0.012)

    def test_levelset_loss_zero_at_target_and_has_gradient(self):
        sdf = torch.from_numpy(np.stack([signed_distance(disk())]))[None]
        exact = torch.tanh(sdf / 4.0)
        loss, parts = levelset_loss(exact, sdf)
        self.assertAlmostEqual(float(loss), 0.0, places=6)
        pred = (exact + 0.1 * torch.randn_like(exact)).clamp(-1, 1).requires_grad_(True)
        loss, parts = levelset_loss(pred, sdf)
        loss.backward()
        self.assertGreater(parts['ls_curv'], 0)
        self.assertTrue(torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0)

    def test_ablation_switch(self):
        t = torch.from_numpy(disk()[None].astype(np.int64))
        outs = [torch.randn(1, 2, 64, 64)]
        phi = torch.zeros(1, 1, 64, 64, requires_grad=True)
        sdf = torch.from_numpy(signed_distance(disk()))[None, None]
        l0, p0 = total_loss(outs, phi, t, sdf, w_ls=0.0)
        l1, p1 = total_loss(outs, phi, t, sdf, w_ls=1.0)
        self.assertNotIn('ls_sdf', p0)
        self.assertGreater(float(l1), float(l0))


if __name__ == '__main__':
    unittest.main()
