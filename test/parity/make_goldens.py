#!/usr/bin/python3
"""Writes the golden outputs that pin the WASM kernels to scipy / scikit-image (and nnU-Net's use of them).

Run with Debian's interpreter: /usr/bin/python3 test/parity/make_goldens.py  (npm run goldens)
Each kernel family has a module goldens_<family>.py with make(out_dir); it writes small .npy inputs and
reference outputs under test/parity/goldens/<family>/ plus a cases.json that the TypeScript tests read.
Arrays are saved C-order with numpy shape (nz, ny, nx): the memory layout of a NIfTI volume [nx, ny, nz].
"""
import importlib
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDENS = os.path.join(HERE, 'goldens')
SHARED = os.path.normpath(os.path.join(HERE, '..', '..', '..', 'shared', 'data'))

FAMILIES = [m[len('goldens_'):-3] for m in sorted(os.listdir(HERE)) if m.startswith('goldens_') and m.endswith('.py')]


def load_nifti_zyx(rel_path):
    """A shared-data NIfTI as a float64 C-order (z, y, x) array plus its (sx, sy, sz) spacing."""
    import nibabel as nib
    img = nib.load(os.path.join(SHARED, rel_path))
    data = np.asarray(img.dataobj, dtype=np.float64)
    return np.ascontiguousarray(data.T), tuple(float(s) for s in img.header.get_zooms()[:3])


def save(out_dir, name, array):
    np.save(os.path.join(out_dir, name + '.npy'), np.ascontiguousarray(array))
    return name + '.npy'


def write_cases(out_dir, cases):
    with open(os.path.join(out_dir, 'cases.json'), 'w') as f:
        json.dump(cases, f, indent=1)


def main(argv):
    sys.path.insert(0, HERE)
    wanted = argv[1:] or FAMILIES
    for family in wanted:
        out_dir = os.path.join(GOLDENS, family)
        os.makedirs(out_dir, exist_ok=True)
        importlib.import_module('goldens_' + family).make(out_dir)
        print('goldens:', family)


if __name__ == '__main__':
    main(sys.argv)
