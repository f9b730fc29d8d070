"""nnU-Net v2 preprocessing of one case: transpose -> crop to non-zero -> normalise -> resample (2D: in-plane)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.transform import resize


def nonzero_bbox(data: np.ndarray) -> list[tuple[int, int]]:
    """Half-open bounding box of the non-zero mask (any channel != 0, holes filled); data is [C, ...]."""
    mask = ndimage.binary_fill_holes(np.any(data != 0, axis=0))
    if not mask.any():
        return [(0, s) for s in mask.shape]
    idx = np.nonzero(mask)
    return [(int(i.min()), int(i.max()) + 1) for i in idx]


def crop(data: np.ndarray, seg: np.ndarray | None, bbox):
    """Crop [C, ...] data and [...] seg to bbox; also return the crop mask of the cropped data."""
    sl = tuple(slice(a, b) for a, b in bbox)
    d = data[(slice(None),) + sl]
    mask = ndimage.binary_fill_holes(np.any(d != 0, axis=0))
    return d, (None if seg is None else seg[sl]), mask


def normalize(data: np.ndarray, mask: np.ndarray, schemes: list[str], use_mask: list[bool], props: dict) -> np.ndarray:
    """Per-channel normalisation, nnU-Net semantics (ZScore per image, optionally inside the crop mask; CT)."""
    out = np.zeros_like(data, dtype=np.float32)
    for c, scheme in enumerate(schemes):
        x = data[c].astype(np.float32)
        if scheme == 'CTNormalization':
            p = props[str(c)]
            x = np.clip(x, p['percentile_00_5'], p['percentile_99_5'])
            out[c] = (x - p['mean']) / max(p['std'], 1e-8)
        elif scheme == 'ZScoreNormalization':
            if use_mask[c]:
                m = mask
                mean, std = x[m].mean(), x[m].std()
                out[c] = np.where(m, (x - mean) / max(std, 1e-8), 0)
            else:
                out[c] = (x - x.mean()) / max(x.std(), 1e-8)
        elif scheme == 'NoNormalization':
            out[c] = x
        else:
            raise ValueError(f'unknown normalisation scheme {scheme}')
    return out


def new_shape(shape, spacing, target) -> list[int]:
    """round(old_spacing / new_spacing * shape) per axis."""
    return [int(round(s * a / b)) for s, a, b in zip(shape, spacing, target)]


def resample_2d(data: np.ndarray, seg: np.ndarray | None, spacing, target_spacing):
    """Resample each slice in-plane (axis 0 kept): data order 3, seg order 1 one-hot, skimage 'edge' mode."""
    shape = data.shape[1:]
    tgt = [shape[0]] + new_shape(shape[1:], spacing[1:], target_spacing[-2:])
    if list(shape) == tgt:
        return data, seg
    d = np.stack(
        [
            np.stack([resize(sl, tgt[1:], order=3, mode='edge', anti_aliasing=False) for sl in ch])
            for ch in data
        ]
    ).astype(np.float32)
    s = None
    if seg is not None:
        labels = np.unique(seg)
        acc = np.zeros([len(labels)] + tgt, np.float32)
        for i, lab in enumerate(labels):
            m = (seg == lab).astype(np.float32)
            acc[i] = np.stack([resize(sl, tgt[1:], order=1, mode='edge', anti_aliasing=False) for sl in m])
        s = labels[np.argmax(acc, 0)].astype(seg.dtype)
    return d, s


def preprocess_case(image: np.ndarray, seg: np.ndarray | None, spacing, plans: dict, config: str = '2d'):
    """Image [X,Y,Z] (single channel) -> (data [C, ...], seg, properties) in the configuration's space."""
    cfg = plans['configurations'][config]
    tf = plans['transpose_forward']
    data = image[None].transpose([0] + [t + 1 for t in tf])
    seg_t = None if seg is None else seg.transpose(tf)
    sp = [spacing[t] for t in tf]
    bbox = nonzero_bbox(data)
    data, seg_t, mask = crop(data, seg_t, bbox)
    data = normalize(
        data, mask, cfg['normalization_schemes'], cfg['use_mask_for_norm'],
        plans['foreground_intensity_properties_per_channel'],
    )
    shape_after_crop = list(data.shape[1:])
    data, seg_t = resample_2d(data, seg_t, sp, cfg['spacing'])
    props = {'bbox': bbox, 'shape_before_crop': list(image.shape), 'shape_after_crop': shape_after_crop,
             'spacing_transposed': sp}
    return data, seg_t, props
