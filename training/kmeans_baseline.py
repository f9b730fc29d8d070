"""3-class k-means baseline for T1 white matter: WM = the brightest cluster of the brain voxels."""

from __future__ import annotations

import argparse
import json

import numpy as np
from scipy.cluster.vq import kmeans2

from .io_utils import load_case
from .metrics import evaluate


def kmeans_wm(image: np.ndarray, brain: np.ndarray, seed: int = 0) -> np.ndarray:
    """Cluster brain intensities into 3 classes (CSF, GM, WM); return the brightest as the WM mask."""
    vals = image[brain].astype(np.float64).reshape(-1, 1)
    # Deterministic start at intensity quantiles, so the run is reproducible.
    init = np.percentile(vals, [15, 50, 85]).reshape(-1, 1)
    centroids, labels = kmeans2(vals, init, minit='matrix', iter=50, seed=seed)
    wm = np.zeros(image.shape, bool)
    wm[brain] = labels == int(np.argmax(centroids[:, 0]))
    return wm


def brain_mask(image: np.ndarray, label: np.ndarray | None = None) -> np.ndarray:
    """Brain voxels: the non-zero voxels, holes filled (the inputs are skull-stripped)."""
    from scipy import ndimage

    return ndimage.binary_fill_holes(image > 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--dataset', required=True)
    ap.add_argument('--case', required=True)
    args = ap.parse_args()
    img, lab, spacing, _ = load_case(args.dataset, args.case)
    wm = kmeans_wm(img, brain_mask(img))
    print(json.dumps(evaluate(wm, lab > 0, spacing), indent=2))


if __name__ == '__main__':
    main()
