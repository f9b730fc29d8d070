"""The intensity-fusion study's model (training/intensity_fusion.py) on a real volume (a crop of fsB with
its white-matter label)."""

import unittest

import numpy as np
from scipy import ndimage as ndi

from training.intensity_fusion import fuse
from training.metrics import dice
from training.tests.test_robustness import _crop


class FuseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.img, lab, _ = _crop()
        cls.wm = lab == 1
        cls.brain = cls.img > 0

    def _prior(self, mask):
        # A soft prior whose one-half level is `mask`'s edge, as a network's softmax is.
        return ndi.gaussian_filter(mask.astype(np.float32), 1.0)

    def test_a_displaced_prior_moves_back_to_the_intensity_edge(self):
        # The prior's boundary one voxel inside the label: the Gaussians fitted to the scan put the
        # boundary voxels, which are WM-bright, back.
        shrunk = ndi.binary_erosion(self.wm) & self.brain
        p = self._prior(shrunk)
        before, after = dice(p > 0.5, self.wm), dice(fuse(self.img, self.brain, p), self.wm)
        self.assertGreater(after, before + 0.02, (before, after))

    def test_a_correct_prior_is_kept(self):
        p = self._prior(self.wm)
        self.assertGreater(dice(fuse(self.img, self.brain, p), p > 0.5), 0.95)

    def test_a_constant_gain_changes_nothing(self):
        p = self._prior(ndi.binary_erosion(self.wm) & self.brain)
        a, b = fuse(self.img, self.brain, p), fuse(1.7 * self.img, self.brain, p)
        self.assertGreater(dice(a, b), 0.999)

    def test_outside_the_brain_is_never_wm(self):
        p = np.ones_like(self.img, dtype=np.float32)
        self.assertFalse(fuse(self.img, self.brain, p)[~self.brain].any())


if __name__ == '__main__':
    unittest.main()
