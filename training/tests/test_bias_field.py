"""The bias-field study's estimators (training/bias_field.py) on a real volume (a crop of fsB with its
white-matter label), and its pre-registered choice rule."""

import unittest

import numpy as np
from scipy import ndimage as ndi

from training.bias_field import MAX_CLEAN_COST, choose, corrected, estimate, log_field, merge_rows, poly_log_field
from training.perturb import _coords
from training.tests.test_robustness import _crop


class EstimatorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.img, lab, cls.sp = _crop()
        cls.wm = lab == 1
        assert cls.wm.sum() > 5000

    def test_polynomial_recovers_a_field_in_its_span(self):
        # The fit is linear in the log-image: a degree-2 log-field multiplied in comes back exactly,
        # on top of what the clean image's own fit holds.
        u, v, w = _coords(self.img.shape, self.img > 0)
        q = (0.3 * u - 0.2 * v * w + 0.25 * w * w).astype(np.float32)
        q -= q[self.img > 0].mean()
        biased = np.where(self.img > 0, self.img * np.exp(q), 0).astype(np.float32)
        got = poly_log_field(biased, self.wm, 2) - poly_log_field(self.img, self.wm, 2)
        m = self.img > 0
        e = ndi.binary_erosion(self.wm) & m
        want = q - q[e].mean()
        np.testing.assert_allclose(got[m], want[m], atol=2e-4)

    def test_correction_undoes_a_constant_gain(self):
        for est in ('gauss:20', 'poly:2'):
            a = corrected(self.img, self.wm, self.sp, est)
            b = corrected(1.3 * self.img, self.wm, self.sp, est)
            m = self.img > 0
            np.testing.assert_allclose(b[m], 1.3 * a[m], rtol=2e-4, err_msg=est)
            np.testing.assert_array_equal(a == 0, ~m, err_msg=est)  # the background stays zero

    def test_smoothing_flattens_a_biased_white_matter(self):
        u, _, _ = _coords(self.img.shape, self.img > 0)
        biased = np.where(self.img > 0, self.img * (1 + 0.4 * u), 0).astype(np.float32)
        fixed = corrected(biased, self.wm, self.sp, 'gauss:20')
        cv = lambda x: float(x[self.wm].std() / x[self.wm].mean())
        self.assertLess(cv(fixed), 0.8 * cv(biased))

    def test_the_gate_opens_only_for_a_strong_field(self):
        u, _, _ = _coords(self.img.shape, self.img > 0)
        biased = np.where(self.img > 0, self.img * (1 + 0.4 * u), 0).astype(np.float32)
        self.assertIsNone(corrected(self.img, self.wm, self.sp, 'gated:0.036:poly:1'))
        np.testing.assert_array_equal(corrected(biased, self.wm, self.sp, 'gated:0.036:poly:1'),
                                      corrected(biased, self.wm, self.sp, 'poly:1'))
        self.assertIsNone(corrected(biased, self.wm, self.sp, 'gated:0.5:poly:1'))
        # The gate compares the sd that estimate reports (the rows record it), over the eroded mask.
        sd = estimate(biased, self.wm, self.sp, 'gated:0.036:poly:1')[1]
        e = ndi.binary_erosion(self.wm) & (self.img > 0)
        self.assertAlmostEqual(sd, float(log_field(biased, self.wm, self.sp, 'poly:1')[e].std()), places=6)
        self.assertIsNotNone(corrected(biased, self.wm, self.sp, f'gated:{sd - 1e-4}:poly:1'))
        self.assertIsNone(corrected(biased, self.wm, self.sp, f'gated:{sd + 1e-4}:poly:1'))

    def test_too_little_white_matter_is_no_field(self):
        few = np.zeros_like(self.wm)
        few[40, 40, 40:45] = True
        for est in ('gauss:30', 'poly:1', 'gated:0:poly:1'):
            self.assertFalse(log_field(self.img, few, self.sp, est).any(), est)
            self.assertIsNone(corrected(self.img, few, self.sp, est), est)
        with self.assertRaises(ValueError):
            log_field(self.img, self.wm, self.sp, 'spline:3')


class ChoiceTest(unittest.TestCase):
    @staticmethod
    def _row(clean_before, clean_after, bias_before, bias_after):
        return {'clean': {'uncorrected': {'dice': clean_before}, 'e': {'dice': clean_after}},
                'bias 40%': {'uncorrected': {'dice': bias_before}, 'e': {'dice': bias_after}}}

    def _res(self, **by_est):
        res = {'m': {'a': {}, 'b': {}}}
        for est, rows in by_est.items():
            for case, r in zip(('a', 'b'), rows):
                for v, cells in self._row(*r).items():
                    res['m'][case].setdefault(v, {'uncorrected': cells['uncorrected']})[est] = cells['e']
        return res

    def test_the_largest_gain_within_the_clean_cost(self):
        res = self._res(
            x=[(0.95, 0.95, 0.90, 0.93), (0.97, 0.97 - MAX_CLEAN_COST - 1e-4, 0.80, 0.86)],  # costs clean
            y=[(0.95, 0.949, 0.90, 0.91), (0.97, 0.969, 0.80, 0.82)],
            z=[(0.95, 0.95, 0.90, 0.905), (0.97, 0.97, 0.80, 0.81)],
        )
        self.assertEqual(choose(res, 'm', ['a', 'b'], ['x', 'y', 'z']), 'y')

    def test_one_that_never_corrects_is_not_chosen(self):
        res = self._res(shut=[(0.95, 0.95, 0.90, 0.90), (0.97, 0.97, 0.80, 0.80)])
        self.assertIsNone(choose(res, 'm', ['a', 'b'], ['shut']))

    def test_merge_keeps_both_files_rows_and_refuses_conflicts(self):
        into = {'m': {'a': {'clean': {'uncorrected': {'dice': 0.9}, 'x': {'dice': 0.8}}}}}
        merge_rows(into, {'m': {'a': {'clean': {'uncorrected': {'dice': 0.9}, 'y': {'dice': 0.7}}}}})
        self.assertEqual(set(into['m']['a']['clean']), {'uncorrected', 'x', 'y'})
        with self.assertRaises(SystemExit):
            merge_rows(into, {'m': {'a': {'clean': {'x': {'dice': 0.81}}}}})

    def test_none_when_every_candidate_costs_clean(self):
        res = self._res(x=[(0.95, 0.94, 0.90, 0.93), (0.97, 0.97, 0.80, 0.86)])
        self.assertIsNone(choose(res, 'm', ['a', 'b'], ['x']))


if __name__ == '__main__':
    unittest.main()
