"""Bias-field correction (engine/preprocessing/bias-field.ts) against the study that chose it:
training/bias_field.py's `estimate(image, wm, spacing, 'gated:SD:poly:1')` and `divided`.

A real region of fsA's skull-stripped T1 (zeros outside the brain kept, so the brain box is not the
array) with its white-matter label as the first segmentation, under the suite's own 40 % polynomial
field (training/perturb.py) and clean; and a label with too little white matter to fit.
Arrays are written (z, y, x) C-order, the memory of a NIfTI volume [nx, ny, nz]; the reference runs
on the nibabel (x, y, z) arrays, as the study does.
"""
import os
import sys

import nibabel as nib
import numpy as np

from make_goldens import SHARED, save, write_cases

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')))
from training.bias_field import divided, estimate  # noqa: E402
from training.perturb import perturb  # noqa: E402

GATE = 0.036


def make(out_dir):
    img = np.asarray(nib.load(os.path.join(SHARED, 'brain-wm/imagesTr/fsA_0000.nii.gz')).dataobj, np.float32)
    lab = np.asarray(nib.load(os.path.join(SHARED, 'brain-wm/labelsTr/fsA.nii.gz')).dataobj) == 1
    # The suite perturbs the whole image; the region is cut after, as an upload's crop would see it.
    # 40 x 44 x 48 at the brain's edge: part of it background, so the brain box is not the array's.
    region = (slice(40, 80), slice(70, 114), slice(100, 148))
    images = {v: perturb(img, v)[region] for v in ['clean', 'bias 40%']}
    wm = lab[region]
    tiny = np.zeros_like(wm)
    tiny[10:20, 10:20, 10:20] = wm[10:20, 10:20, 10:20]  # < 1000 voxels once eroded
    # Under the release's gate (the study's, 0.036) the biased region passes it and the clean one does
    # not; the clean one is also corrected under a low gate, a weak field divided out.
    # Four slices, white matter labelled in the first three: the eroded mask lies in slice 1 alone, so
    # its z coordinate is constant (and not the box's centre) and the fit must give z no slope (found
    # by review: first the step refused to fit it, then it extrapolated a slope that scaled with the
    # intensities to the other slices).
    slab = (slice(68, 188), slice(60, 180), slice(126, 130))
    thin_image = perturb(img, 'bias 40%')[slab]
    thin_wm = lab[slab].copy()
    thin_wm[..., 3] = False
    cases = []
    for name, image, mask, gate in [
        ('bias_40', images['bias 40%'], wm, GATE),
        ('clean', images['clean'], wm, GATE),
        ('clean_low_gate', images['clean'], wm, 0.005),
        ('too_little_tissue', images['bias 40%'], tiny, 0.0),
        ('one_slice_mask', thin_image, thin_wm, 0.005),
    ]:
        f, sd = estimate(image, mask, (1.0, 1.0, 1.0), f'gated:{gate}:poly:1')
        out = divided(image, f)
        inner, _ = estimate(image, mask, (1.0, 1.0, 1.0), 'poly:1')
        applies = out is not None
        case = {
            'name': name,
            'gate': gate,
            'image': save(out_dir, {id(images['clean']): 'clean_image', id(thin_image): 'thin_image'}.get(
                id(image), 'bias_40_image'), image.T.astype(np.float32)),
            'labels': save(out_dir, {id(tiny): 'tiny_labels', id(thin_wm): 'thin_labels'}.get(id(mask), 'wm_labels'),
                           mask.T.astype(np.uint8)),
            'fitted': bool(inner.any()),
            'sd': sd if inner.any() else None,
            'applies': applies,
        }
        if applies:
            case['corrected'] = save(out_dir, f'{name}_corrected', out.T.astype(np.float32))
        cases.append(case)
    write_cases(out_dir, cases)
