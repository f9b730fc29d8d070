"""Segmentation-driven bias-field correction: the study that chose the estimator the pipeline step
runs (docs/robustness.md, "Bias-field correction from the first segmentation (the study)"; the step:
engine/preprocessing/bias-field.ts, pinned to `estimate` and `divided` here by
test/parity/goldens_bias_field.py).

A smooth multiplicative bias field is where the released models lose most on the robustness suite
(bench/results/robustness.json: -0.044 Dice on bias 40 % for 2.1.0). White matter is one tissue with
nearly one intensity, so a first segmentation tells where to read the field: a smooth fit of the
log-intensity inside the eroded white-matter mask is the log-field (a normalised Gaussian convolution,
the masked sum over the smoothed mask as in FSL FAST's bias estimate, Zhang et al., IEEE TMI 2001; or a
low-degree polynomial, as in parametric bias correction, Styner et al., IEEE TMI 2000); the image
divided by it is segmented again.

Two steps, with the choice made before fsA is segmented with any correction:
  --select: on the training cases (fsB, mni152; never fsA), clean and bias 40 %, each field estimator
            of --estimators; the chosen one maximises the mean Dice gain on bias 40 % among those that
            cost clean at most MAX_CLEAN_COST Dice on every case.
  --measure: on the validation case, every suite variant, with the chosen estimator.
Rows are cached in --out (bench/results/bias-field.json), so an interrupted run goes on.

Run (from the repository root, after `npm run build`):
  /usr/bin/python3 -m training.bias_field --dataset ../shared/data/brain-wm --model brain-wm-2d@1.2.0 \
      --select fsB --select mni152 --out bench/results/bias-field.json
  /usr/bin/python3 -m training.bias_field --dataset ../shared/data/brain-wm --model brain-wm-2d@1.2.0 \
      --measure fsA --out bench/results/bias-field.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi

from .io_utils import load_case
from .metrics import evaluate
from .perturb import SUITE, SUITE_SEED, _coords, perturb
from .robustness import segment

SELECT_VARIANTS = ['clean', 'bias 40%']
# The candidates. The smoothing family (sigma in mm) was fixed first; the rule rejected all four on
# mni152's clean scan, and the least-squares polynomials of degree 1 and 2 were added then, before
# fsA was segmented by any of them. Degree 3 is left out: it is the suite's own field family
# (training/perturb.py).
#
# All six cost a clean training case more than MAX_CLEAN_COST. A seventh was added after them, before
# fsA was segmented with any correction: the degree-1 fit applied only when its field is strong. Its
# gate, 0.036, is midway between 0.030 and 0.042: the sd of the degree-1 log-field on mni152's gamma 1.5
# (the largest among the training variants without a field) and on its bias 20 % (the smallest with
# one). Those two were read through the case's label over the whole label mask; the gate computes its
# sd over the eroded mask (of the first segmentation), and over the eroded label mask the same two give
# 0.029 and 0.041 (found by a review after fsA was measured; the gate was not moved).
ESTIMATORS = ['gauss:20', 'gauss:30', 'gauss:40', 'gauss:50', 'poly:1', 'poly:2', 'gated:0.036:poly:1']
# The most a chosen estimator may cost a clean training case (Dice), fixed before the sweep ran.
MAX_CLEAN_COST = 0.002


def _wm_log(image: np.ndarray, wm: np.ndarray):
    """(the eroded white-matter mask inside the image, the log-intensity there, 0 elsewhere), or None when
    there is too little white matter to read a field from."""
    m = ndi.binary_erosion(wm) & (image > 0)
    if m.sum() < 1000:
        return None
    return m, np.where(m, np.log(np.maximum(image, 1e-6)), 0).astype(np.float32)


def gauss_log_field(image: np.ndarray, wm: np.ndarray, spacing, sigma_mm: float) -> np.ndarray:
    """The log bias field as the normalised-convolution smoothed log-intensity of the eroded `wm` mask
    (sigma in mm per axis), zero mean over that mask, zero where the smoothed mask vanishes."""
    got = _wm_log(image, wm)
    if got is None:
        return np.zeros(image.shape, np.float32)
    m, li = got
    sig = [sigma_mm / s for s in spacing]
    num = ndi.gaussian_filter(li, sig, mode='constant')
    den = ndi.gaussian_filter(m.astype(np.float32), sig, mode='constant')
    ok = den > 1e-3
    f = np.where(ok, num / np.where(ok, den, 1), 0).astype(np.float32)
    f -= np.float32(f[m].mean())
    return np.where(ok, f, 0).astype(np.float32)


def poly_log_field(image: np.ndarray, wm: np.ndarray, degree: int) -> np.ndarray:
    """The log bias field as the least-squares polynomial of total degree `degree` in the brain box's
    coordinates (each scaled to [-1, 1]) through the eroded `wm` mask's log-intensity, zero mean there."""
    got = _wm_log(image, wm)
    if got is None:
        return np.zeros(image.shape, np.float32)
    m, li = got
    u, v, w = _coords(image.shape, image > 0)
    idx = np.nonzero(m)
    # Centred on the mask: the same polynomials, but a coordinate constant over the mask (a mask in
    # one slice) gets no slope from lstsq's minimum-norm answer instead of one that scales with the
    # mean log-intensity (found by review). The constant term is fitted too; the final mean removal
    # drops it.
    u, v, w = [c - np.float32(c.ravel()[i].mean()) for c, i in zip((u, v, w), idx)]
    terms = [(i, j, k) for i in range(degree + 1) for j in range(degree + 1 - i) for k in range(degree + 1 - i - j)]
    a = np.stack([u.ravel()[idx[0]] ** i * v.ravel()[idx[1]] ** j * w.ravel()[idx[2]] ** k for i, j, k in terms], 1)
    coef = np.linalg.lstsq(a.astype(np.float64), li[idx].astype(np.float64), rcond=None)[0]
    f = np.zeros(image.shape, np.float32)
    for c, (i, j, k) in zip(coef, terms):
        f += np.float32(c) * (u ** i) * (v ** j) * (w ** k)
    f -= np.float32(f[m].mean())
    return f


def estimate(image: np.ndarray, wm: np.ndarray, spacing, estimator: str) -> tuple[np.ndarray, float]:
    """(the log-field to divide by, the sd of the estimated field over the eroded white matter).

    `estimator` is `gauss:SIGMA_MM`, `poly:DEGREE`, or `gated:SD:ESTIMATOR`: ESTIMATOR's field only when
    its sd exceeds SD, else none (the sd reported is ESTIMATOR's either way: what the gate compared)."""
    kind, _, p = estimator.partition(':')
    if kind == 'gated':
        threshold, _, inner = p.partition(':')
        f, sd = estimate(image, wm, spacing, inner)
        return (f if sd > float(threshold) else np.zeros(image.shape, np.float32)), sd
    if kind == 'gauss':
        f = gauss_log_field(image, wm, spacing, float(p))
    elif kind == 'poly':
        f = poly_log_field(image, wm, int(p))
    else:
        raise ValueError(f'unknown field estimator {estimator}')
    m = ndi.binary_erosion(wm) & (image > 0)
    return f, float(f[m].std()) if m.any() else 0.0


def log_field(image: np.ndarray, wm: np.ndarray, spacing, estimator: str) -> np.ndarray:
    return estimate(image, wm, spacing, estimator)[0]


def divided(image: np.ndarray, f: np.ndarray) -> np.ndarray | None:
    """`image` divided by the log-field `f`; None when there is no field (nothing to segment again)."""
    if not f.any():
        return None
    return np.where(image > 0, image * np.exp(-f), 0).astype(np.float32)


def corrected(image: np.ndarray, wm: np.ndarray, spacing, estimator: str) -> np.ndarray | None:
    return divided(image, log_field(image, wm, spacing, estimator))


class Segmenter:
    def __init__(self, model: str, aff, hdr, tmp: str):
        self.model, self.aff, self.hdr, self.tmp = model, aff, hdr, tmp

    def __call__(self, image: np.ndarray) -> np.ndarray:
        path, out = os.path.join(self.tmp, 'image.nii'), os.path.join(self.tmp, 'labels.nii')
        nib.save(nib.Nifti1Image(image, self.aff, self.hdr), path)
        segment(['--model', self.model, '--threads', '1'], path, out)
        return np.asarray(nib.load(out).dataobj) == 1


def run_case(dataset, case, model, variants, estimators, res, out_path):
    """Fills res['results'][model][case][variant] with the uncorrected and each estimator's scores."""
    img, lab, sp, aff = load_case(dataset, case)
    truth = lab == 1
    hdr = nib.load(os.path.join(dataset, 'imagesTr', f'{case}_0000.nii.gz')).header.copy()
    hdr.set_data_dtype(np.float32)
    rows = res['results'].setdefault(model, {}).setdefault(case, {})
    with tempfile.TemporaryDirectory() as tmp:
        seg = Segmenter(model, aff, hdr, tmp)
        for v in variants:
            row = rows.setdefault(v, {})
            todo = [e for e in estimators if e not in row]
            if 'uncorrected' in row and not todo:
                continue
            image = perturb(img, v)
            first = seg(image)
            row['uncorrected'] = evaluate(first, truth, sp)
            for e in todo:
                f, sd = estimate(image, first, sp, e)
                fixed = divided(image, f)
                scores = row['uncorrected'] if fixed is None else evaluate(seg(fixed), truth, sp)
                row[e] = {**scores, 'applied': fixed is not None, 'field_sd': sd}
                print(f'{case} {v:45s} {e:9s}: {row["uncorrected"]["dice"]:.4f} -> {row[e]["dice"]:.4f}', flush=True)
                with open(out_path, 'w') as f:
                    json.dump(res, f, indent=2)
                    f.write('\n')


def merge_rows(into: dict, other: dict) -> None:
    """Adds `other`'s rows (model, case, variant, estimator) to `into`; a row both hold must agree."""
    for model, cases in other.items():
        for case, variants in cases.items():
            for variant, row in variants.items():
                mine = into.setdefault(model, {}).setdefault(case, {}).setdefault(variant, {})
                for e, cell in row.items():
                    if e in mine and e != 'uncorrected' and mine[e] != cell:
                        raise SystemExit(f'--merge: {model} {case} {variant} {e} differs between the files')
                    mine[e] = cell


def choose(res: dict, model: str, cases: list[str], estimators: list[str]) -> str | None:
    """The pre-registered rule (module docstring) on the training cases' rows."""
    best, best_gain = None, None
    for e in estimators:
        rows = [res[model][c] for c in cases]
        if any(r['clean']['uncorrected']['dice'] - r['clean'][e]['dice'] > MAX_CLEAN_COST for r in rows):
            continue
        gain = float(np.mean([r['bias 40%'][e]['dice'] - r['bias 40%']['uncorrected']['dice'] for r in rows]))
        if gain > 0 and (best_gain is None or gain > best_gain):  # one that never corrects gains nothing
            best, best_gain = e, gain
    return best


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--dataset', required=True)
    ap.add_argument('--model', required=True, help='model reference for `nnsam segment --model`')
    ap.add_argument('--select', action='append', default=[], help='a training case to choose the estimator on')
    ap.add_argument('--measure', default=None, help='the validation case to measure the chosen estimator on')
    ap.add_argument('--estimators', default=','.join(ESTIMATORS), help='candidates for --select')
    ap.add_argument('--out', required=True)
    ap.add_argument('--merge', action='append', default=[], help='rows of another --out file (a case run in parallel)')
    a = ap.parse_args(argv)
    res = {'suite_seed': SUITE_SEED, 'max_clean_cost': MAX_CLEAN_COST, 'results': {}}
    if os.path.exists(a.out):
        with open(a.out) as f:
            res = json.load(f)
    for other in a.merge:
        with open(other) as f:
            merge_rows(res['results'], json.load(f)['results'])
    estimators = a.estimators.split(',')
    for case in a.select:
        run_case(a.dataset, case, a.model, SELECT_VARIANTS, estimators, res, a.out)
    if a.measure:
        chosen = res.get('chosen')
        if chosen is None:
            raise SystemExit('no estimator chosen: --select on the training cases chose none or has not run')
        if (res.get('max_clean_cost') != MAX_CLEAN_COST or chosen != choose(
                res['results'], res['selected_with'], res['selected_on'], res['candidates'])):
            raise SystemExit(f'{a.out}: its chosen estimator is not what the rule picks from its rows')
        run_case(a.dataset, a.measure, a.model, list(SUITE), [chosen], res, a.out)
    elif a.select:
        res['selected_with'] = a.model
        res['selected_on'] = a.select
        res['candidates'] = estimators
        res['chosen'] = choose(res['results'], a.model, a.select, estimators)
        print('chosen:', res['chosen'])
    with open(a.out, 'w') as f:
        json.dump(res, f, indent=2)
        f.write('\n')


if __name__ == '__main__':
    main()
