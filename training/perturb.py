"""Image perturbations of a skull-stripped MR volume: the robustness suite's fixed ones (docs/robustness.md).

Every function takes and returns a raw image [X, Y, Z] (float32, zero outside the brain) and keeps the
background at zero, so the non-zero mask that nnU-Net's preprocessing crops and normalises with is the
one of the clean image. The suite's parameters live in `SUITE` and were fixed before brain-wm-2d 2.0.0
was trained; they are not to be tuned after seeing results.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# Seed of the suite's random draws (the bias field's coefficients, the noise). Fixed with the suite.
SUITE_SEED = 20261202


def brain(image: np.ndarray) -> np.ndarray:
    """The brain mask: the non-zero voxels (the inputs are skull-stripped)."""
    return image != 0


def _coords(shape, mask: np.ndarray):
    """Voxel coordinates scaled to [-1, 1] over the brain's bounding box, per axis."""
    idx = np.nonzero(mask)
    lo = [int(i.min()) for i in idx]
    hi = [int(i.max()) for i in idx]
    return [
        ((np.arange(s, dtype=np.float32) - l) / max(h - l, 1) * 2 - 1).reshape([-1 if a == b else 1 for b in range(3)])
        for a, (s, l, h) in enumerate(zip(shape, lo, hi))
    ]


def polynomial_bias(image: np.ndarray, strength: float, seed: int = SUITE_SEED) -> np.ndarray:
    """Multiply by a smooth field `1 + strength * f`, `f` a random polynomial of degree <= 3 in the three
    coordinates (coefficients N(0, 1), seeded), scaled so that max |f| over the brain is exactly 1:
    strength 0.4 is a field from 0.6 to 1.4 inside the brain."""
    m = brain(image)
    u, v, w = _coords(image.shape, m)
    rng = np.random.default_rng(seed)
    f = np.zeros(image.shape, np.float32)
    for i in range(4):
        for j in range(4 - i):
            for k in range(4 - i - j):
                if i + j + k == 0:
                    continue
                f += np.float32(rng.normal()) * (u ** i) * (v ** j) * (w ** k)
    f -= f[m].mean()
    f /= np.abs(f[m]).max()
    return np.where(m, image * (1 + strength * f), 0).astype(np.float32)


def rician_noise(image: np.ndarray, level: float, seed: int = SUITE_SEED) -> np.ndarray:
    """Rician noise inside the brain: `|x + n1 + i n2|`, n ~ N(0, (level * p99)^2), p99 the brain's 99th
    intensity percentile. Magnitude MR noise is Rician; it keeps intensities positive, so the mask stays."""
    m = brain(image)
    sd = level * float(np.percentile(image[m], 99))
    rng = np.random.default_rng(seed + 1)
    n1 = rng.normal(0, sd, image.shape).astype(np.float32)
    n2 = rng.normal(0, sd, image.shape).astype(np.float32)
    out = np.sqrt((image + n1) ** 2 + n2 ** 2)
    return np.where(m, np.maximum(out, 1e-3), 0).astype(np.float32)


def gamma(image: np.ndarray, g: float) -> np.ndarray:
    """`max * (x / max) ** g` inside the brain (a contrast change that keeps the intensity order)."""
    m = brain(image)
    top = float(image[m].max())
    return np.where(m, top * np.clip(image / top, 0, None) ** g, 0).astype(np.float32)


def thick_slices(image: np.ndarray, axis: int, thickness: int = 3) -> np.ndarray:
    """Slices `thickness` voxels (mm at 1 mm) thick along `axis`: each slice is the mean over its slab (a box
    slice profile), one slice per slab; then back onto the 1 mm grid by linear interpolation between slice
    centres, as the pipeline's resampling of a thick-slice upload to the model's spacing would. Background
    stays zero (the brain mask is the clean one), so only the image content loses resolution."""
    m = brain(image)
    n = image.shape[axis] // thickness
    cut = np.take(image, np.arange(n * thickness), axis=axis)
    shape = list(cut.shape)
    shape[axis:axis + 1] = [n, thickness]
    slabs = cut.reshape(shape).mean(axis=axis + 1)
    centres = np.arange(n) * thickness + (thickness - 1) / 2
    pos = np.clip(np.arange(image.shape[axis], dtype=np.float64), centres[0], centres[-1])
    i0 = np.clip(np.searchsorted(centres, pos, side='right') - 1, 0, n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    t = np.where(i1 > i0, (pos - centres[i0]) / thickness, 0.0).astype(np.float32)
    shp = [1, 1, 1]
    shp[axis] = -1
    out = np.take(slabs, i0, axis=axis) * (1 - t.reshape(shp)) + np.take(slabs, i1, axis=axis) * t.reshape(shp)
    return np.where(m, np.maximum(out, 1e-3), 0).astype(np.float32)


def _apply(image: np.ndarray, steps) -> np.ndarray:
    out = image.astype(np.float32)
    for kind, *p in steps:
        if kind == 'bias':
            out = polynomial_bias(out, *p)
        elif kind == 'noise':
            out = rician_noise(out, *p)
        elif kind == 'gamma':
            out = gamma(out, *p)
        elif kind == 'thick':
            out = thick_slices(out, *p)
        else:
            raise ValueError(f'unknown perturbation {kind}')
    return out


# The robustness suite (issue 13), fixed before training brain-wm-2d 2.0.0: name -> steps, in order.
SUITE: dict[str, list[tuple]] = {
    'clean': [],
    'bias 20%': [('bias', 0.2)],
    'bias 40%': [('bias', 0.4)],
    'noise 4%': [('noise', 0.04)],
    'gamma 0.7': [('gamma', 0.7)],
    'gamma 1.5': [('gamma', 1.5)],
    '3 mm slices, axis 0': [('thick', 0, 3)],
    '3 mm slices, axis 1': [('thick', 1, 3)],
    '3 mm slices, axis 2': [('thick', 2, 3)],
    'bias 40% + noise 4%': [('bias', 0.4), ('noise', 0.04)],
    'bias 20% + gamma 1.5 + noise 4%': [('bias', 0.2), ('gamma', 1.5), ('noise', 0.04)],
    'bias 40% + 3 mm slices, axis 2 + noise 4%': [('bias', 0.4), ('thick', 2, 3), ('noise', 0.04)],
}


def perturb(image: np.ndarray, variant: str) -> np.ndarray:
    """The suite's variant `variant` of `image`."""
    return _apply(image, SUITE[variant])
