"""Reading nnU-Net v2 raw cases (NIfTI) as numpy arrays in file axis order."""

from __future__ import annotations

import json
import os

import nibabel as nib
import numpy as np


def read_dataset_json(dataset: str) -> dict:
    """The dataset.json of an nnU-Net v2 raw dataset folder."""
    with open(os.path.join(dataset, 'dataset.json')) as f:
        return json.load(f)


def list_cases(dataset: str) -> list[str]:
    """Case ids present in labelsTr, sorted."""
    ending = read_dataset_json(dataset).get('file_ending', '.nii.gz')
    return sorted(f[: -len(ending)] for f in os.listdir(os.path.join(dataset, 'labelsTr')) if f.endswith(ending))


def load_case(dataset: str, case: str):
    """(image float32 [X,Y,Z], label uint8 or None, spacing tuple, affine) of a single-channel case."""
    ending = read_dataset_json(dataset).get('file_ending', '.nii.gz')
    im = nib.load(os.path.join(dataset, 'imagesTr', f'{case}_0000{ending}'))
    img = np.asarray(im.dataobj, dtype=np.float32)
    lp = os.path.join(dataset, 'labelsTr', f'{case}{ending}')
    lab = np.asarray(nib.load(lp).dataobj).astype(np.uint8) if os.path.exists(lp) else None
    spacing = tuple(float(s) for s in im.header.get_zooms()[:3])
    return img, lab, spacing, im.affine
