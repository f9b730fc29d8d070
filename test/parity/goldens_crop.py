"""Crop to non-zero: nnU-Net's create_nonzero_mask (binary_fill_holes) and get_bbox_from_mask."""
import numpy as np
from scipy.ndimage import binary_fill_holes

from make_goldens import load_nifti_zyx, save, write_cases


def reference(channels):
    mask = np.zeros(channels[0].shape, dtype=bool)
    for c in channels:
        mask |= c != 0
    mask = binary_fill_holes(mask)
    idx = np.nonzero(mask)
    # (x0, x1, y0, y1, z0, z1), half-open, from the (z, y, x) array
    box = [int(idx[2].min()), int(idx[2].max()) + 1, int(idx[1].min()), int(idx[1].max()) + 1,
           int(idx[0].min()), int(idx[0].max()) + 1] if idx[0].size else None
    return mask.astype(np.uint8), box


def make(out_dir):
    cases = []
    brain, _ = load_nifti_zyx('brain-wm/imagesTr/fsB_0000.nii.gz')  # skull-stripped: zero outside
    # A crop holding the edge of the brain, with a cavity punched in to exercise hole filling.
    vol = brain[100:140, 60:110, 20:83].astype(np.float32)
    vol[15:25, 20:30, 30:45] = 0
    mr, _ = load_nifti_zyx('fixtures/mr-aniso/KmeansTest_T1UCharRaw.nii.gz')
    two_d = np.zeros((1, 37, 29), np.float32)
    two_d[0, 5:30, 4:20] = 1
    two_d[0, 10:12, 8:10] = 0  # a hole on a 1-slice volume touches the z faces: scipy keeps it
    ring = np.zeros((9, 9, 9), np.float32)
    ring[2:7, 2:7, 2:7] = 3
    ring[3:6, 3:6, 3:6] = 0
    inputs = {
        'brain': [vol],
        'mr_two_channels': [mr[10:40, 30:90, 20:70].astype(np.float32), np.roll(mr[10:40, 30:90, 20:70], 7, axis=2).astype(np.float32)],
        'two_d': [two_d],
        'hollow_cube': [ring],
        'all_zero': [np.zeros((3, 4, 5), np.float32)],
    }
    for name, channels in inputs.items():
        mask, box = reference(channels)
        files = [save(out_dir, f'{name}_in{i}', c.astype(np.float32)) for i, c in enumerate(channels)]
        cases.append({'name': name, 'inputs': files, 'mask': save(out_dir, f'{name}_mask', mask), 'bbox': box})
    write_cases(out_dir, cases)
