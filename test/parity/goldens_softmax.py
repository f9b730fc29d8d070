"""Softmax / argmax over channels: scipy.special.softmax(axis=0) and numpy argmax(axis=0) on [C, ...] stacks.

Channels are logits-like planes made from real images: z-score normalised crops scaled to a typical
logit range, plus planted exact ties (argmax must pick the first) and large offsets (stability).
"""
import numpy as np
from scipy.special import softmax

from make_goldens import load_nifti_zyx, save, write_cases


def zscore(a):
    a = a.astype(np.float64)
    return (a - a.mean()) / max(a.std(), 1e-8)


def make(out_dir):
    cases = []
    brain, _ = load_nifti_zyx('brain-wm/imagesTr/fsA_0000.nii.gz')
    mr, _ = load_nifti_zyx('fixtures/mr-aniso/KmeansTest_T1UCharRaw.nii.gz')
    crop = brain[100:110, 80:117, 90:133]  # (10, 37, 43): 15910 voxels, not a multiple of 4
    two = np.stack([4 * zscore(crop), -4 * zscore(np.roll(crop, 3, axis=2))]).astype(np.float32)
    # Ties: copy channel 0 into channel 1 on a band of voxels; both are then equally large.
    two[1, :, 5:9, :] = two[0, :, 5:9, :]
    planes = [zscore(mr[20:25, 30 + 5 * k:60 + 5 * k, 40:67]) * (3 + k) for k in range(5)]
    five = np.stack(planes).astype(np.float32)  # (5, 5, 30, 27)
    five[3, 2] = five[1, 2]  # exact ties between channels 1 and 3 on one slice
    five[:, 4] += 1000  # a large common offset: a naive exp would overflow
    slab = np.stack([zscore(mr[31:32, 10:80, 5:70]) * s for s in (2, -3, 1)]).astype(np.float32)  # 2D (3, 1, 70, 65)
    slab[:, 0, 0, :3] = 0  # all three channels tied
    one = (zscore(crop[:3]) * 5).astype(np.float32)[None]  # a single channel: softmax is 1, argmax 0
    for name, x in [('brain_two', two), ('mr_five', five), ('slab_2d', slab), ('single', one)]:
        x = np.ascontiguousarray(x)
        cases.append({
            'name': name,
            'channels': int(x.shape[0]),
            'shape': [int(s) for s in x.shape[1:]],
            'logits': save(out_dir, name + '_logits', x),
            'softmax': save(out_dir, name + '_softmax', softmax(x.astype(np.float64), axis=0).astype(np.float32)),
            'argmax': save(out_dir, name + '_argmax', np.argmax(x, axis=0).astype(np.uint8)),
        })
    write_cases(out_dir, cases)
