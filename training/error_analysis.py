"""Where a prediction disagrees with its reference: the largest false-positive / false-negative
components, located relative to the brain's centre in scanner (RAS) millimetres."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def components(pred: np.ndarray, ref: np.ndarray, affine: np.ndarray, image: np.ndarray, top: int = 3) -> dict:
    """Top FP and FN connected components (full connectivity): size, offset from the brain centre, intensity."""
    centre = np.array(ndimage.center_of_mass(image > 0))
    out = {'fp_voxels': int((pred & ~ref).sum()), 'fn_voxels': int((~pred & ref).sum())}
    st = ndimage.generate_binary_structure(3, 3)
    for kind, m in (('fp', pred & ~ref), ('fn', ~pred & ref)):
        lbl, n = ndimage.label(m, structure=st)
        if n == 0:
            out[kind] = []
            continue
        sizes = ndimage.sum(m, lbl, range(1, n + 1))
        rows = []
        for i in np.argsort(sizes)[::-1][:top]:
            comp = lbl == i + 1
            c = np.array(ndimage.center_of_mass(comp))
            ras = affine[:3, :3] @ (c - centre)
            rows.append({'voxels': int(sizes[i]), 'offset_ras_mm': [round(float(v), 1) for v in ras],
                         'mean_intensity': round(float(image[comp].mean()), 1)})
        out[kind] = rows
    return out


def describe(offset_ras_mm) -> str:
    """'12 mm right, 30 mm inferior, ...' from an RAS offset."""
    names = (('left', 'right'), ('posterior', 'anterior'), ('inferior', 'superior'))
    return ', '.join(f'{abs(v):.0f} mm {names[i][v > 0]}' for i, v in enumerate(offset_ras_mm))
