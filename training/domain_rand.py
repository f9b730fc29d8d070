"""Domain randomisation of whole training volumes (docs/robustness.md), after SynthSeg (Billot et al., MedIA
2023) and nnU-Net's augmentation: each training volume is re-drawn with a random tissue contrast, gamma,
bias field, resolution and noise, then preprocessed exactly as inference preprocesses an upload (crop,
z-score inside the non-zero mask). Perturbing the raw volume rather than a normalised 2D patch is the
point: a bias field or a gamma change moves the volume's normalisation statistics, and the network has to
see what that does to its input.

A background process draws the volumes (`VolumeStream`) so the trainer's thread keeps stepping; the
trainer mixes them into its pool of cases, next to the clean ones.
"""

from __future__ import annotations

import multiprocessing as mp
import queue

import numpy as np
from scipy import ndimage
from scipy.cluster.vq import kmeans2

from .perturb import brain, thick_slices
from .preprocessing import nonzero_bbox, preprocess_case

# Probabilities and ranges of each randomisation, drawn per volume (each independently), by profile.
# 'v2' trained brain-wm-2d 2.0.0. 'strong' (fixed 2026-12-02 before any run with it, for fine-tuning a
# released network) draws the bias field more often and stronger, and thick slices and noise more often,
# so that fields like the suite's 40 % one and their combinations with thick slices and noise are common
# in training rather than the tail; the field family (an exponentiated spline) stays unlike the suite's
# polynomial (docs/robustness.md).
PROFILES = {
    'v2': {
        'remix': (0.5, 0.2),  # per tissue, intensity x exp(U(-r, r))
        'gamma': (0.4, (0.6, 1.7)),  # log-uniform
        'bias': (0.6, (0.0, 0.5)),  # exp(a * f), a ~ U(lo, hi), f smooth with max |f| = 1 in the brain
        'thick': (0.4, (2, 5)),  # slices of 2-5 voxels along one random axis
        'blur': (0.2, (0.3, 0.8)),
        'noise': (0.5, 0.06),  # Rician, sd U(0, max) of the brain's p99
    },
    'strong': {
        'remix': (0.5, 0.2),
        'gamma': (0.4, (0.6, 1.7)),
        'bias': (0.8, (0.2, 0.7)),
        'thick': (0.5, (2, 5)),
        'blur': (0.2, (0.3, 0.8)),
        'noise': (0.6, 0.06),
    },
}

def tissue_map(image: np.ndarray, label: np.ndarray) -> np.ndarray:
    """0 outside the brain, 1 and 2 the darker and brighter half of the non-WM brain voxels (CSF-like and
    GM-like, by 2-class k-means of their intensity), 3 the labelled white matter."""
    m = brain(image)
    t = np.zeros(image.shape, np.uint8)
    rest = m & (label == 0)
    vals = image[rest].astype(np.float64).reshape(-1, 1)
    cent, lab = kmeans2(vals, np.percentile(vals, [25, 75]).reshape(-1, 1), minit='matrix', iter=30, seed=0)
    bright = int(np.argmax(cent[:, 0]))
    t[rest] = np.where(lab == bright, 2, 1)
    t[m & (label > 0)] = 3
    return t


def _smooth_field(rng, shape, grid: int = 5) -> np.ndarray:
    """A smooth random field: N(0, 1) on a coarse grid, cubic interpolation to `shape`."""
    coarse = rng.normal(size=(grid,) * 3).astype(np.float32)
    return ndimage.zoom(coarse, [s / grid for s in shape], order=3, mode='nearest')[
        tuple(slice(0, s) for s in shape)
    ]


def randomise(rng, image: np.ndarray, tissue: np.ndarray, profile: str = 'v2') -> np.ndarray:
    """One random draw of a raw volume [X, Y, Z] (background zero in and out)."""
    pr = PROFILES[profile]
    m = brain(image)
    x = image.astype(np.float32)
    p, r = pr['remix']
    if rng.random() < p:
        gains = np.exp(rng.uniform(-r, r, 4)).astype(np.float32)
        # Smoothed one-hot weights, so the gain changes over a voxel or two rather than exactly at the
        # label's edge (a hard step there would hand the network the answer).
        num = np.zeros(x.shape, np.float32)
        den = np.zeros(x.shape, np.float32)
        for k in (1, 2, 3):
            w = ndimage.gaussian_filter((tissue == k).astype(np.float32), 1.0)
            num += gains[k] * w
            den += w
        x = np.where(m, x * num / np.maximum(den, 1e-6), 0)
    p, rng_g = pr['gamma']
    if rng.random() < p:
        g = float(np.exp(rng.uniform(*np.log(rng_g))))
        top = float(x[m].max())
        x = np.where(m, top * np.clip(x / top, 0, None) ** g, 0)
    p, (lo, hi) = pr['bias']
    if rng.random() < p:
        f = _smooth_field(rng, x.shape)
        f -= f[m].mean()
        f /= max(float(np.abs(f[m]).max()), 1e-6)
        x = np.where(m, x * np.exp(rng.uniform(lo, hi) * f), 0)
    p, (t0, t1) = pr['thick']
    if rng.random() < p:
        x = thick_slices(x, int(rng.integers(3)), int(rng.integers(t0, t1 + 1)))
    p, sigma = pr['blur']
    if rng.random() < p:
        x = np.where(m, ndimage.gaussian_filter(x, rng.uniform(*sigma)), 0)
    p, top_sd = pr['noise']
    if rng.random() < p:
        sd = rng.uniform(0, top_sd) * float(np.percentile(x[m], 99))
        n1 = rng.normal(0, sd, x.shape).astype(np.float32)
        n2 = rng.normal(0, sd, x.shape).astype(np.float32)
        x = np.where(m, np.maximum(np.sqrt((x + n1) ** 2 + n2 ** 2), 1e-3), 0)
    return np.where(m, np.maximum(x, 1e-3), 0).astype(np.float32)


class RawCase:
    """A training case cropped to its brain (preprocessing would crop there anyway), with its tissue map."""

    def __init__(self, image: np.ndarray, label: np.ndarray, spacing):
        bbox = nonzero_bbox(image[None])
        sl = tuple(slice(a, b) for a, b in bbox)
        self.image, self.label, self.spacing = image[sl].astype(np.float32), label[sl], spacing
        self.tissue = tissue_map(self.image, self.label)


def draw(rng, case: RawCase, plans: dict, profile: str = 'v2'):
    """A randomised, preprocessed (data [C, Z, Y, X], seg) of one case, as the trainer's pool holds them."""
    d, s, _ = preprocess_case(randomise(rng, case.image, case.tissue, profile), case.label, case.spacing, plans)
    return d, s


def _produce(cases, plans, seed, profile, out):
    rng = np.random.default_rng(seed)
    while True:
        i = int(rng.integers(len(cases)))
        out.put((i, *draw(rng, cases[i], plans, profile)))


class VolumeStream:
    """Randomised volumes drawn in a child process; `poll()` returns one when ready, else None."""

    def __init__(self, cases: list[RawCase], plans: dict, seed: int, profile: str = 'v2', depth: int = 2):
        ctx = mp.get_context('fork')
        self._q = ctx.Queue(maxsize=depth)
        self._p = ctx.Process(target=_produce, args=(cases, plans, seed, profile, self._q), daemon=True)
        self._p.start()

    def poll(self):
        try:
            return self._q.get_nowait()
        except queue.Empty:
            return None

    def close(self):
        self._p.terminate()
        self._p.join()
