"""Shared fixtures for the training tests: tiny plans, tiny networks, one thread."""

from __future__ import annotations

import os

import warnings

import torch

torch.set_num_threads(1)
# torch.onnx explains its InstanceNorm export choices at length; the tests check the result instead.
warnings.filterwarnings("ignore", category=UserWarning)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
DATASET = os.environ.get('NNSAM_DATASET', os.path.join(REPO, '..', 'shared', 'data', 'brain-wm'))


def tiny_plans(patch=(64, 64), feats=(8, 16, 32, 64, 64)) -> dict:
    """Plans in nnU-Net v2's format for a small 2D network."""
    n = len(feats)
    return {
        'dataset_name': 'tiny', 'plans_name': 'nnUNetPlans', 'transpose_forward': [0, 1, 2],
        'transpose_backward': [0, 1, 2], 'original_median_spacing_after_transp': [1.0, 1.0, 1.0],
        'foreground_intensity_properties_per_channel': {'0': {
            'mean': 100.0, 'median': 100.0, 'std': 20.0, 'min': 0.0, 'max': 200.0,
            'percentile_00_5': 10.0, 'percentile_99_5': 190.0}},
        'configurations': {'2d': {
            'batch_size': 2, 'patch_size': list(patch), 'spacing': [1.0, 1.0, 1.0],
            'median_image_size_in_voxels': list(patch),
            'normalization_schemes': ['ZScoreNormalization'], 'use_mask_for_norm': [True],
            'resampling_fn_data_kwargs': {'is_seg': False, 'order': 3, 'order_z': 0, 'force_separate_z': None},
            'resampling_fn_seg_kwargs': {'is_seg': True, 'order': 1, 'order_z': 0, 'force_separate_z': None},
            'resampling_fn_probabilities_kwargs': {'is_seg': False, 'order': 1, 'order_z': 0,
                                                   'force_separate_z': None},
            'architecture': {
                'network_class_name': 'dynamic_network_architectures.architectures.unet.PlainConvUNet',
                'arch_kwargs': {'n_stages': n, 'features_per_stage': list(feats),
                                'kernel_sizes': [[3, 3]] * n, 'strides': [[1, 1]] + [[2, 2]] * (n - 1),
                                'n_conv_per_stage': [2] * n, 'n_conv_per_stage_decoder': [2] * (n - 1)}},
        }},
    }


TINY_DATASET_JSON = {'channel_names': {'0': 'T1'}, 'labels': {'background': 0, 'white_matter': 1},
                     'numTraining': 1, 'file_ending': '.nii.gz'}


def write_synthetic_dataset(root: str, n_cases: int = 2, shape=(6, 48, 48), seed: int = 0) -> str:
    """A tiny nnU-Net v2 raw dataset: a bright disk ('white matter') inside a darker head, zero outside."""
    import json

    import nibabel as nib
    import numpy as np

    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, 'imagesTr'))
    os.makedirs(os.path.join(root, 'labelsTr'))
    yy, xx = np.mgrid[:shape[1], :shape[2]]
    for i in range(n_cases):
        r = 8 + 2 * i
        head = ((yy - 24) ** 2 + (xx - 24) ** 2) <= 20**2
        wm = ((yy - 24) ** 2 + (xx - 24) ** 2) <= r**2
        img = np.where(head, 60.0, 0.0) + np.where(wm, 40.0, 0.0)
        img = np.repeat(img[None], shape[0], 0) + rng.normal(0, 2, shape) * head
        lab = np.repeat(wm[None], shape[0], 0).astype(np.uint8)
        nib.save(nib.Nifti1Image(img.astype(np.float32), np.eye(4)), os.path.join(root, 'imagesTr', f'c{i}_0000.nii.gz'))
        nib.save(nib.Nifti1Image(lab, np.eye(4)), os.path.join(root, 'labelsTr', f'c{i}.nii.gz'))
    with open(os.path.join(root, 'dataset.json'), 'w') as f:
        json.dump(TINY_DATASET_JSON, f)
    return root
