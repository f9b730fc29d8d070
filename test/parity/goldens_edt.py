"""Distance transform: scipy.ndimage.distance_transform_edt with sampling, and the signed distance from it.

A mask with no feature voxel has no defined distance (scipy measures to a phantom voxel outside the
array); the kernels define it as Infinity, and so does this reference.
"""
import numpy as np
from scipy.ndimage import distance_transform_edt

from make_goldens import load_nifti_zyx, save, write_cases


def edt(mask, spacing_xyz):
    """Distance in mm from every non-zero voxel to the nearest zero voxel; Infinity if there is none."""
    if mask.all():
        return np.full(mask.shape, np.inf)
    return distance_transform_edt(mask, sampling=tuple(reversed(spacing_xyz)))


def signed(mask, spacing_xyz):
    """+ distance to foreground outside, - distance to background inside."""
    outside = edt(~mask, spacing_xyz)
    inside = edt(mask, spacing_xyz)
    return np.where(mask, -inside, outside)


def make(out_dir):
    label, _ = load_nifti_zyx('brain-wm/labelsTr/fsA.nii.gz')
    brain = label[100:128, 60:92, 70:110] > 0  # (z, y, x) = 28 x 32 x 40 crop through white matter
    kmeans, _ = load_nifti_zyx('fixtures/mr-aniso/KmeansTest_T1KmeansPrelimSegmentation.nii.gz')
    aniso = kmeans[20:41, 40:73, 30:63] == 3  # 21 x 33 x 33
    rng = np.random.default_rng(7)
    blobs = rng.random((5, 7, 9)) > 0.35
    two_d = np.zeros((1, 29, 37), bool)
    two_d[0, 4:25, 6:30] = True
    two_d[0, 10:13, 12:15] = False
    line = np.ones((1, 1, 13), bool)
    line[0, 0, 9] = False
    column = rng.random((11, 1, 1)) > 0.3
    column[4, 0, 0] = False
    single_zero = np.ones((6, 5, 7), bool)
    single_zero[5, 0, 6] = False
    masks = {
        'brain': (brain, (1.0, 1.0, 1.0)),
        'brain_extreme_spacing': (brain, (0.1, 7.0, 1.3)),
        'aniso_fixture': (aniso, (2.0, 2.0, 3.0)),
        'blobs_odd': (blobs, (0.7, 1.9, 2.5)),
        'two_d': (two_d, (0.5, 0.8, 1.0)),
        'line_x': (line, (3.0, 1.0, 1.0)),
        'column_z': (column, (1.0, 1.0, 2.5)),
        'single_zero_corner': (single_zero, (1.0, 2.0, 3.0)),
        'all_foreground': (np.ones((3, 4, 5), bool), (1.0, 1.0, 1.0)),
        'all_background': (np.zeros((3, 4, 5), bool), (1.0, 1.0, 1.0)),
    }
    cases = []
    saved = {}
    for name, (mask, spacing) in masks.items():
        key = id(mask)
        if key not in saved:
            saved[key] = save(out_dir, f'{name}_mask', mask.astype(np.uint8))
        cases.append({
            'name': name,
            'mask': saved[key],
            'spacing': list(spacing),
            'edt': save(out_dir, f'{name}_edt', edt(mask, spacing).astype(np.float32)),
            'sdf': save(out_dir, f'{name}_sdf', signed(mask, spacing).astype(np.float32)),
        })
    write_cases(out_dir, cases)
