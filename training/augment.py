"""nnU-Net-style 2D sampling and augmentation on numpy (spatial, intensity, mirroring), seeded."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def sample_patch(rng, data, seg, patch, force_fg: bool, spatial: dict | None):
    """One 2D patch from a [C, Z, Y, X] volume: random slice, optional forced foreground centre, then a
    rotation/scaling applied by resampling the whole slice around the patch centre (zeros outside).
    """
    if force_fg and (seg > 0).any():
        fg_slices = np.nonzero((seg > 0).any(axis=(1, 2)))[0]
        z = int(rng.choice(fg_slices))
        ys, xs = np.nonzero(seg[z] > 0)
        i = int(rng.integers(len(ys)))
        centre = np.array([ys[i], xs[i]], float)
    else:
        z = int(rng.integers(data.shape[1]))
        centre = np.array([rng.uniform(0, data.shape[2]), rng.uniform(0, data.shape[3])])
    img, lab = data[:, z], seg[z]
    ps = np.array(patch, float)
    grid = np.stack(np.meshgrid(np.arange(patch[0]), np.arange(patch[1]), indexing='ij'), 0).reshape(2, -1)
    grid = grid - (ps[:, None] - 1) / 2
    mat = np.eye(2)
    order_data = 1
    if spatial is not None:
        if rng.random() < spatial.get('p_rot', 0.2):
            a = rng.uniform(-np.pi, np.pi)
            mat = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ mat
        if rng.random() < spatial.get('p_scale', 0.2):
            mat = mat * rng.uniform(0.7, 1.4)
        order_data = 3
    coords = mat @ grid + centre[:, None]
    if spatial is None or np.allclose(mat, np.eye(2)):
        # Pure translation: integer crop with zero padding (exact, cheap).
        lo = np.round(centre - (ps - 1) / 2).astype(int)
        out_d = np.zeros((img.shape[0], *patch), np.float32)
        out_s = np.zeros(patch, np.uint8)
        src = [slice(max(lo[a], 0), min(lo[a] + patch[a], img.shape[a + 1])) for a in range(2)]
        dst = [slice(s.start - lo[a], s.stop - lo[a]) for a, s in enumerate(src)]
        out_d[(slice(None), *dst)] = img[(slice(None), *src)]
        out_s[tuple(dst)] = lab[tuple(src)]
        return out_d, out_s
    out_d = np.stack([
        ndimage.map_coordinates(ch, coords, order=order_data, mode='constant', cval=0.0).reshape(patch)
        for ch in img
    ]).astype(np.float32)
    out_s = ndimage.map_coordinates(lab, coords, order=0, mode='constant', cval=0).reshape(patch).astype(np.uint8)
    return out_d, out_s


def intensity_augment(rng, x: np.ndarray) -> np.ndarray:
    """Noise, blur, brightness, contrast, low resolution, gamma: nnU-Net's probabilities, simplified."""
    if rng.random() < 0.1:
        x = x + rng.normal(0, np.sqrt(rng.uniform(0, 0.1)), x.shape).astype(np.float32)
    if rng.random() < 0.2:
        x = np.stack([ndimage.gaussian_filter(c, rng.uniform(0.5, 1.0)) for c in x])
    if rng.random() < 0.15:
        x = x * rng.uniform(0.75, 1.25)
    if rng.random() < 0.15:
        mn, lo, hi = x.mean(), x.min(), x.max()
        x = np.clip((x - mn) * rng.uniform(0.75, 1.25) + mn, lo, hi)
    if rng.random() < 0.25:
        z = rng.uniform(0.5, 1.0)
        small = np.stack([ndimage.zoom(c, z, order=0) for c in x])
        x = np.stack([ndimage.zoom(c, np.array(x.shape[1:]) / np.array(c.shape), order=3) for c in small])
    for invert, p in ((True, 0.1), (False, 0.3)):
        if rng.random() < p:
            g = rng.uniform(0.7, 1.5)
            y = -x if invert else x
            mn, sd = y.mean(), y.std()
            lo, rngv = y.min(), y.max() - y.min() + 1e-7
            y = ((y - lo) / rngv) ** g * rngv + lo
            y = (y - y.mean()) / (y.std() + 1e-8) * sd + mn  # nnU-Net retains the statistics
            x = -y if invert else y
    return x.astype(np.float32)


def mirror(rng, x: np.ndarray, s: np.ndarray, axes=(0, 1)):
    """Flip each axis with p=0.5 (data [C, H, W], seg [H, W])."""
    for a in axes:
        if rng.random() < 0.5:
            x, s = np.flip(x, a + 1), np.flip(s, a)
    return np.ascontiguousarray(x), np.ascontiguousarray(s)


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """Signed distance (voxels) to the boundary, positive inside, +-0.5 at the voxels next to it."""
    m = mask.astype(bool)
    if m.all():
        return np.full(m.shape, 1e3, np.float32)
    if not m.any():
        return np.full(m.shape, -1e3, np.float32)
    inside = ndimage.distance_transform_edt(m)
    outside = ndimage.distance_transform_edt(~m)
    return np.where(m, inside - 0.5, -(outside - 0.5)).astype(np.float32)


class BatchSampler:
    """nnU-Net 2D batches: 1/3 of each batch forced to contain foreground, augmented, with SDF targets."""

    def __init__(self, cases: list[tuple[np.ndarray, np.ndarray]], patch, batch_size: int, num_classes: int,
                 seed: int, augment: bool = True, oversample_fg: float = 0.33):
        self.cases, self.patch, self.bs, self.nc = cases, list(patch), batch_size, num_classes
        self.rng = np.random.default_rng(seed)
        self.augment, self.fg = augment, oversample_fg

    def next(self):
        """(x [B,C,H,W] float32, seg [B,H,W] int64, sdf [B,K,H,W] float32 in voxels)."""
        xs, ss = [], []
        for b in range(self.bs):
            data, seg = self.cases[int(self.rng.integers(len(self.cases)))]
            force = b >= round(self.bs * (1 - self.fg))
            x, s = sample_patch(self.rng, data, seg, self.patch, force, {} if self.augment else None)
            if self.augment:
                x = intensity_augment(self.rng, x)
                x, s = mirror(self.rng, x, s)
            xs.append(x)
            ss.append(s)
        seg = np.stack(ss).astype(np.int64)
        sdf = np.stack([[signed_distance(s == k) for k in range(1, self.nc)] for s in seg])
        return np.stack(xs), seg, sdf
