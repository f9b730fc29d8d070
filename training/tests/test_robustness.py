"""The robustness suite's perturbations and the domain randomisation, on a real volume (a crop of fsB):
the brain mask is kept, each perturbation does what docs/robustness.md says, draws are seeded; and the
card section writer replaces only its own section."""

import json
import os
import tempfile
import unittest

import numpy as np

from training import robustness
from training.domain_rand import RawCase, draw, randomise
from training.io_utils import load_case
from training.model_card import ROBUSTNESS_BEGIN, ROBUSTNESS_END
from training.perturb import SUITE, brain, gamma, perturb, polynomial_bias, rician_noise, thick_slices
from training.tests.helpers import DATASET, tiny_plans


def _crop():
    img, lab, sp, _ = load_case(DATASET, 'fsB')
    c = [s // 2 for s in img.shape]
    sl = tuple(slice(x - 40, x + 40) for x in c)
    return img[sl], lab[sl], sp


class PerturbationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.img, cls.lab, cls.sp = _crop()
        cls.mask = brain(cls.img)
        assert cls.mask.any() and not cls.mask.all()

    def test_every_variant_keeps_the_brain_mask(self):
        for v in SUITE:
            out = perturb(self.img, v)
            self.assertEqual(out.dtype, np.float32, v)
            np.testing.assert_array_equal(out != 0, self.mask, err_msg=v)
            self.assertTrue(np.isfinite(out).all(), v)

    def test_bias_field_spans_its_strength(self):
        out = polynomial_bias(self.img, 0.4)
        ratio = out[self.mask] / self.img[self.mask]
        self.assertAlmostEqual(float(np.abs(ratio - 1).max()), 0.4, places=4)
        self.assertGreater(float(ratio.std()), 0.02)  # a field, not a constant
        np.testing.assert_array_equal(out, polynomial_bias(self.img, 0.4))  # seeded

    def test_gamma_keeps_order_and_maximum(self):
        for g in (0.7, 1.5):
            out = gamma(self.img, g)
            m = self.mask
            order = np.argsort(self.img[m], kind='stable')
            self.assertTrue((np.diff(out[m][order]) >= -1e-3).all())
            self.assertAlmostEqual(float(out[m].max()), float(self.img[m].max()), places=3)
        self.assertLess(float(gamma(self.img, 1.5)[self.mask].mean()), float(self.img[self.mask].mean()))

    def test_rician_noise_level(self):
        out = rician_noise(self.img, 0.04)
        p99 = float(np.percentile(self.img[self.mask], 99))
        bright = self.mask & (self.img > 0.5 * p99)  # Rician ~ Gaussian at high SNR
        self.assertAlmostEqual(float((out - self.img)[bright].std()) / p99, 0.04, delta=0.004)

    def test_thick_slices_average_each_slab(self):
        out = thick_slices(self.img, 1, 3)
        # The slice centres carry their slab's mean (inside the brain).
        for k in range(5, 20):
            centre = 3 * k + 1
            slab = self.img[:, 3 * k:3 * k + 3].mean(axis=1)
            m = self.mask[:, centre]
            np.testing.assert_allclose(out[:, centre][m], np.maximum(slab[m], 1e-3), rtol=1e-5, atol=1e-4)
        # Along the other axes nothing is averaged: a volume constant along axis 1 is unchanged.
        flat = np.repeat(self.img[:, :1], self.img.shape[1], axis=1)
        np.testing.assert_allclose(thick_slices(flat, 1, 3)[flat != 0], flat[flat != 0], rtol=1e-6)


class DomainRandomisationTest(unittest.TestCase):
    def test_draws_are_seeded_keep_the_mask_and_vary(self):
        img, lab, sp = _crop()
        case = RawCase(img, lab, sp)
        self.assertEqual(set(np.unique(case.tissue)), {0, 1, 2, 3})
        np.testing.assert_array_equal(case.tissue == 3, brain(case.image) & (case.label > 0))
        a = [randomise(np.random.default_rng(s), case.image, case.tissue) for s in range(4)]
        b = randomise(np.random.default_rng(0), case.image, case.tissue)
        np.testing.assert_array_equal(a[0], b)
        for x in a:
            np.testing.assert_array_equal(x != 0, brain(case.image))
        self.assertGreater(min(float(np.abs(a[i] - a[j]).mean()) for i in range(4) for j in range(i)), 0.1)
        data, seg = draw(np.random.default_rng(0), case, tiny_plans())
        m = data[0] != 0
        self.assertAlmostEqual(float(data[0][m].mean()), 0.0, places=4)  # z-scored as inference does
        self.assertAlmostEqual(float(data[0][m].std()), 1.0, places=3)
        np.testing.assert_array_equal(seg, case.label)

    def test_profiles_are_used_and_seeded(self):
        img, lab, sp = _crop()
        case = RawCase(img, lab, sp)
        for seed in range(3):
            strong = randomise(np.random.default_rng(seed), case.image, case.tissue, 'strong')
            np.testing.assert_array_equal(strong, randomise(np.random.default_rng(seed), case.image, case.tissue, 'strong'))
            np.testing.assert_array_equal(strong != 0, brain(case.image))
        # The same seed draws another volume under the other profile: its probabilities and ranges differ.
        self.assertFalse(np.array_equal(strong, randomise(np.random.default_rng(2), case.image, case.tissue, 'v2')))
        with self.assertRaises(KeyError):
            randomise(np.random.default_rng(0), case.image, case.tissue, 'none')


class CardSectionTest(unittest.TestCase):
    def test_replaces_only_its_section_and_rehashes(self):
        names = ['m@2.0.0', 'm@1.0.0', robustness.KMEANS]
        res = {'case': 'fsA', 'suite': {v: [] for v in ('clean', 'bias 40%')}, 'results': {
            n: {'clean': {'dice': 0.9, 'asd_mm': 0.3, 'hd95_mm': 1.0},
                'bias 40%': {'dice': d, 'asd_mm': 0.4, 'hd95_mm': 1.4}} for n, d in zip(names, (0.89, 0.85, 0.86))}}
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, 'README.md'), 'w') as f:
                f.write(f'# card\nbefore\n{ROBUSTNESS_BEGIN}\nold\n{ROBUSTNESS_END}\nafter\n')
            with open(os.path.join(d, 'manifest.json'), 'w') as f:
                json.dump({'id': 'm', 'version': '2.0.0', 'files': {'README.md': {'role': 'model card'}}}, f)
            robustness.write_card_section(res, d, 'r.json')
            with open(os.path.join(d, 'README.md')) as f:
                text = f.read()
            self.assertTrue(text.startswith('# card\nbefore\n') and text.endswith('after\n'))
            self.assertNotIn('\nold\n', text)
            self.assertIn('| bias 40% | 0.8900 (-0.0100)', text)
            self.assertIn('**met** (largest loss 0.0100, bias 40%)', text)
            self.assertIn('Beats release m@1.0.0 on Dice on every perturbed variant: **met**', text)
            self.assertIn('Beats k-means on Dice on every perturbed variant: **met**', text)
            with open(os.path.join(d, 'manifest.json')) as f:
                files = json.load(f)['files']
            self.assertEqual(files['README.md']['bytes'], len(text.encode()))


if __name__ == '__main__':
    unittest.main()
