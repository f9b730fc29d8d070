"""Segmentation metrics as docs/metrics.md defines them (Dice, ASD, HD95 on surface voxels, in mm)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def dice(pred: np.ndarray, ref: np.ndarray) -> float:
    """Dice of two binary masks; 1.0 when both are empty."""
    p, r = pred.astype(bool), ref.astype(bool)
    denom = p.sum() + r.sum()
    return 1.0 if denom == 0 else float(2.0 * np.logical_and(p, r).sum() / denom)


def surface(mask: np.ndarray) -> np.ndarray:
    """Surface voxels: the mask minus its erosion with full connectivity."""
    m = mask.astype(bool)
    st = ndimage.generate_binary_structure(m.ndim, m.ndim)
    return m & ~ndimage.binary_erosion(m, structure=st, border_value=0)


def surface_distances(pred: np.ndarray, ref: np.ndarray, spacing) -> np.ndarray:
    """Pooled distances (mm) from each surface voxel of pred to ref's surface and back."""
    sp, sr = surface(pred), surface(ref)
    if not sp.any() or not sr.any():
        return np.array([np.inf])
    # Distance to the nearest surface voxel of the other mask.
    d_to_r = ndimage.distance_transform_edt(~sr, sampling=spacing)
    d_to_p = ndimage.distance_transform_edt(~sp, sampling=spacing)
    return np.concatenate([d_to_r[sp], d_to_p[sr]])


def evaluate(pred: np.ndarray, ref: np.ndarray, spacing) -> dict:
    """Dice, ASD (mean of the pooled surface distances) and HD95 (their 95th percentile)."""
    d = surface_distances(pred, ref, spacing)
    return {
        'dice': dice(pred, ref),
        'asd_mm': float(np.mean(d)),
        'hd95_mm': float(np.percentile(d, 95)),
    }
