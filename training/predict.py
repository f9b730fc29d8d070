"""Reference predictor with nnU-Net v2 semantics (docs/nnunet-inference.md) for a 2D configuration, in PyTorch."""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import ndimage
from skimage.transform import resize

from .preprocessing import preprocess_case


def gaussian_map(patch) -> np.ndarray:
    """Importance map as nnU-Net's compute_gaussian: centred at patch // 2, sigma = patch/8 per axis, max 1,
    zeros replaced by the smallest value. (A product of 1D Gaussians equals gaussian_filter of a delta.)"""
    g = np.ones(patch, np.float64)
    for a, p in enumerate(patch):
        x = np.arange(p) - p // 2
        shape = [1] * len(patch)
        shape[a] = p
        g = g * np.exp(-0.5 * (x / (p / 8)) ** 2).reshape(shape)
    g /= g.max()
    g[g == 0] = g[g > 0].min()
    return g.astype(np.float32)


def window_starts(size: int, patch: int, step: float = 0.5) -> list[int]:
    """n = ceil((size - patch) / (patch * step)) + 1 windows, evenly spread, offsets rounded."""
    if size <= patch:
        return [0]
    n = math.ceil((size - patch) / (patch * step)) + 1
    st = (size - patch) / (n - 1)
    return [int(round(st * i)) for i in range(n)]


def _pad_to(x: np.ndarray, patch):
    """Pad [C, H, W] to at least patch, centred, with zeros; return the padded array and the slices back."""
    pads, back = [(0, 0)], [slice(None)]
    for s, p in zip(x.shape[1:], patch):
        d = max(p - s, 0)
        pads.append((d // 2, d - d // 2))
        back.append(slice(d // 2, d // 2 + s))
    return np.pad(x, pads), tuple(back)


@torch.no_grad()
def predict_slices(net, data: np.ndarray, patch, num_classes: int, mirror_axes=(0, 1), batch: int = 16,
                   step: float = 0.5) -> np.ndarray:
    """Sliding-window 2D prediction over every slice of data [C, Z, H, W]; returns logits [K, Z, H, W]."""
    net.eval()
    g = torch.from_numpy(gaussian_map(patch))
    out = np.zeros((num_classes,) + data.shape[1:], np.float32)
    flips = [()] + [(a,) for a in mirror_axes] + ([tuple(mirror_axes)] if len(mirror_axes) == 2 else [])
    for z in range(data.shape[1]):
        sl, back = _pad_to(data[:, z], patch)
        tiles = [(y, x) for y in window_starts(sl.shape[1], patch[0], step)
                 for x in window_starts(sl.shape[2], patch[1], step)]
        acc = torch.zeros((num_classes,) + sl.shape[1:])
        wsum = torch.zeros(sl.shape[1:])
        for i in range(0, len(tiles), batch):
            chunk = tiles[i:i + batch]
            xb = torch.from_numpy(np.stack([sl[:, y:y + patch[0], x:x + patch[1]] for y, x in chunk]))
            logits = 0
            for f in flips:
                dims = [a + 2 for a in f]
                xin = torch.flip(xb, dims) if f else xb
                seg, _ = net(xin)
                lo = seg[0] if isinstance(seg, (list, tuple)) else seg
                logits = logits + (torch.flip(lo, dims) if f else lo)
            logits = logits / len(flips)
            for (y, x), lo in zip(chunk, logits):
                acc[:, y:y + patch[0], x:x + patch[1]] += lo * g
                wsum[y:y + patch[0], x:x + patch[1]] += g
        out[:, z] = (acc / wsum)[(slice(None),) + back[1:]].numpy()
    return out


def predict_volume(net, image: np.ndarray, spacing, plans: dict, num_classes: int, mirror_axes=(0, 1),
                   config: str = '2d') -> np.ndarray:
    """Raw image [X, Y, Z] -> label map of the same shape (argmax), nnU-Net order of operations."""
    cfg = plans['configurations'][config]
    data, _, props = preprocess_case(image, None, spacing, plans, config)
    logits = predict_slices(net, data, cfg['patch_size'], num_classes, mirror_axes)
    tgt = props['shape_after_crop']
    if list(logits.shape[1:]) != tgt:
        logits = np.stack([resize(c, tgt, order=1, mode='edge', anti_aliasing=False) for c in logits])
    lab = np.argmax(logits, 0).astype(np.uint8)
    full = np.zeros([image.shape[t] for t in plans['transpose_forward']], np.uint8)
    full[tuple(slice(a, b) for a, b in props['bbox'])] = lab
    return full.transpose(plans['transpose_backward'])


def _keep_largest(mask: np.ndarray) -> np.ndarray:
    """The largest connected component (full connectivity) of a mask; every one tied for largest is kept."""
    lab, n = ndimage.label(mask, structure=np.ones((3,) * mask.ndim))
    if n <= 1:
        return mask
    sizes = np.bincount(lab.ravel())[1:]
    return np.isin(lab, np.flatnonzero(sizes == sizes.max()) + 1)


def postprocess(labels: np.ndarray, pp: dict | None) -> np.ndarray:
    """nnU-Net's remove-all-but-largest-component, as a manifest's `inference.postprocessing` asks:
    first over the whole foreground (`keep_largest_foreground`), then per label (`keep_largest_labels`)."""
    out = labels.copy()
    if not pp:
        return out
    if pp.get('keep_largest_foreground'):
        out[(out > 0) & ~_keep_largest(out > 0)] = 0
    for lab in pp.get('keep_largest_labels', []):
        out[(out == lab) & ~_keep_largest(out == lab)] = 0
    return out
