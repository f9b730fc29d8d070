#!/usr/bin/python3
"""Times, in Debian's Python, the scipy / scikit-image / numpy calls that nnU-Net makes for each kernel
that bench/kernels.ts times, on the same shared volumes. Prints one JSON line {case: median_ms} of
process CPU time (user + system), as bench/kernels.ts measures its own side. With --serve it times one
call per line read from stdin (a case name) and answers {"cpu_ms": ..., "wall_ms": ...}, so that
bench/kernels.ts can alternate its own runs with these under the same machine load.

usage: /usr/bin/python3 bench/kernels_ref.py [--runs N] CASE...
       /usr/bin/python3 bench/kernels_ref.py --serve
"""
import json
import os
import sys
import time

import numpy as np
from scipy.ndimage import binary_fill_holes, distance_transform_edt, label
from scipy.special import softmax
from skimage.transform import resize

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'test', 'parity'))
from make_goldens import load_nifti_zyx  # noqa: E402
from goldens_resample import resize_segmentation  # noqa: E402
from goldens_sliding_window import compute_gaussian, compute_steps  # noqa: E402
from goldens_levelset import flow, sdf  # noqa: E402
from goldens_metrics import binary_metrics  # noqa: E402

IMAGE, _ = load_nifti_zyx('brain-wm/imagesTr/fsA_0000.nii.gz')
IMAGE32 = IMAGE.astype(np.float32)
WM = load_nifti_zyx('brain-wm/labelsTr/fsA.nii.gz')[0].astype(np.uint8)
WM_BOOL = WM.astype(bool)
SHAPE = IMAGE.shape
DOWN = tuple(int(round(s / 1.5)) for s in SHAPE)  # 1 mm -> 1.5 mm
UP = tuple(int(round(s / 0.7)) for s in SHAPE)  # 1 mm -> 0.7 mm


def zscore_masked():
    # nnU-Net ZScoreNormalization with use_mask_for_norm: mask = the crop's hole-filled non-zero mask
    img = IMAGE32.copy()
    mask = MASK
    mean = img[mask].mean()
    std = img[mask].std()
    img[mask] = (img[mask] - mean) / max(std, 1e-8)
    return img


def crop():
    mask = binary_fill_holes(IMAGE32 != 0)
    idx = np.nonzero(mask)
    return [(int(i.min()), int(i.max()) + 1) for i in idx]


MASK = binary_fill_holes(IMAGE32 != 0)
LOGITS = np.stack([(IMAGE32 - 60) / 40, (60 - IMAGE32) / 50]).astype(np.float32)
STEPS = compute_steps(SHAPE, (128, 128, 128), 0.5)


WINDOWS = [(slice(z, z + 128), slice(y, y + 128), slice(x, x + 128))
           for z in STEPS[0] for y in STEPS[1] for x in STEPS[2]]
# Patches are cut once, outside the timing, on both sides: only the weighting is timed.
PATCHES = [np.ascontiguousarray(LOGITS[(slice(None),) + sl]) for sl in WINDOWS]


def accumulate():
    # nnU-Net's _internal_predict_sliding_window_return_logits aggregation (Gaussian included)
    g = compute_gaussian((128, 128, 128)).astype(np.float32)
    acc = np.zeros((2,) + SHAPE, np.float32)
    weight = np.zeros(SHAPE, np.float32)
    for sl, patch in zip(WINDOWS, PATCHES):
        acc[(slice(None),) + sl] += patch * g
        weight[sl] += g
    return acc / weight


def largest():
    labels, n = label(WM_BOOL, structure=np.ones((3, 3, 3)))
    sizes = np.bincount(labels.ravel())[1:]
    return labels == (np.argmax(sizes) + 1)



def metrics():
    return binary_metrics(ERODED, WM, (1.0, 1.0, 1.0))


ERODED = np.roll(WM, 1, axis=2)

CASES = {
    'crop': crop,
    'zscore_masked': zscore_masked,
    'resample_o3_down': lambda: resize(IMAGE, DOWN, 3, mode='edge', anti_aliasing=False),
    'resample_o1_down': lambda: resize(IMAGE, DOWN, 1, mode='edge', anti_aliasing=False),
    'resample_o0_down': lambda: resize(IMAGE, DOWN, 0, mode='edge', anti_aliasing=False),
    'resample_o3_up': lambda: resize(IMAGE, UP, 3, mode='edge', anti_aliasing=False),
    'resample_o1_up': lambda: resize(IMAGE, UP, 1, mode='edge', anti_aliasing=False),
    'resample_labels_o1_down': lambda: resize_segmentation(WM, DOWN, 1),
    'edt': lambda: distance_transform_edt(WM_BOOL),
    'edt_signed': lambda: distance_transform_edt(~WM_BOOL) - distance_transform_edt(WM_BOOL),
    'components': lambda: label(WM_BOOL, structure=np.ones((3, 3, 3))),
    'keep_largest': largest,
    'softmax_argmax': lambda: np.argmax(softmax(LOGITS, axis=0), axis=0),
    'gaussian_accumulate': accumulate,
    'levelset_smooth_10': lambda: flow(sdf(WM, (1.0, 1.0, 1.0)), (1.0, 1.0, 1.0), 10) < 0,
    'metrics': metrics,
}


def time_once(name):
    """(CPU ms, wall ms) of one call; the result is freed inside the timing, as numpy frees it."""
    c0, t0 = time.process_time(), time.perf_counter()
    CASES[name]()
    return (time.process_time() - c0) * 1000, (time.perf_counter() - t0) * 1000


def serve():
    for line in sys.stdin:
        cpu, wall = time_once(line.strip())
        print(json.dumps({'cpu_ms': cpu, 'wall_ms': wall}), flush=True)


def main(argv):
    if argv == ['--serve']:
        return serve()
    runs = 3
    names = []
    it = iter(argv)
    for a in it:
        if a == '--runs':
            runs = int(next(it))
        else:
            names.append(a)
    out = {}
    for name in names or CASES:
        time_once(name)  # warm-up, as the TypeScript side does
        out[name] = float(np.median([time_once(name)[0] for _ in range(runs)]))
        print(f'{name}: {out[name]:.1f} ms', file=sys.stderr)
    print(json.dumps(out))


if __name__ == '__main__':
    main(sys.argv[1:])
