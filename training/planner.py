"""Dataset fingerprint and nnU-Net-style plans for a 2D configuration, under an explicit compute budget.

Run: /usr/bin/python3 -m training.planner --dataset ../shared/data/brain-wm --out plans.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from .io_utils import list_cases, load_case, read_dataset_json
from .preprocessing import crop, nonzero_bbox


def fingerprint(dataset: str, cases: list[str] | None = None, seed: int = 1234) -> dict:
    """Spacings, shapes (before/after crop) and foreground intensity stats of channel 0, like nnU-Net's."""
    rng = np.random.default_rng(seed)
    cases = cases or list_cases(dataset)
    spacings, shapes, cropped, samples = [], [], [], []
    for c in cases:
        img, seg, sp, _ = load_case(dataset, c)
        bbox = nonzero_bbox(img[None])
        d, s, _ = crop(img[None], seg, bbox)
        spacings.append(list(sp))
        shapes.append(list(img.shape))
        cropped.append(list(d.shape[1:]))
        fg = d[0][s > 0]
        # nnU-Net samples 10k foreground voxels per case for the intensity statistics.
        samples.append(rng.choice(fg, min(10000, fg.size), replace=False) if fg.size else fg)
    v = np.concatenate(samples).astype(np.float64)
    props = {
        'mean': float(v.mean()), 'median': float(np.median(v)), 'std': float(v.std()),
        'min': float(v.min()), 'max': float(v.max()),
        'percentile_99_5': float(np.percentile(v, 99.5)), 'percentile_00_5': float(np.percentile(v, 0.5)),
    }
    return {
        'cases': cases, 'spacings': spacings, 'shapes_before_crop': shapes, 'shapes_after_crop': cropped,
        'foreground_intensity_properties_per_channel': {'0': props},
    }


def _n_pool(size: int, min_feature_map: int = 4, max_pool: int = 999) -> int:
    """How often an axis of `size` can be halved while the map stays >= min_feature_map."""
    n = 0
    while size % 2 == 0 and size // 2 >= min_feature_map and n < max_pool:
        size //= 2
        n += 1
    return n


def plan_2d(fp: dict, dataset_json: dict, budget: dict | None = None) -> dict:
    """nnU-Net-style plans for '2d'. `budget` caps patch pixels and features so training fits the machine.

    nnU-Net starts from the median in-plane image shape and shrinks the patch until its GPU-memory
    estimate fits; here the estimate is replaced by `max_patch_pixels` (CPU time per step). The target
    spacing is the median spacing unless `min_spacing_mm` forces a coarser grid (a trade we document).
    """
    b = {'max_patch_pixels': 128 * 128, 'base_features': 32, 'max_features': 512, 'batch_size': 12,
         'min_spacing_mm': 0.0, 'min_feature_map': 4}
    b.update(budget or {})
    spacings = np.array(fp['spacings'])
    med_sp = np.median(spacings, 0)
    # Lowest resolution (largest spacing) axis first: 2D slices are taken along it.
    ax0 = int(np.argmax(med_sp)) if med_sp.max() / med_sp.min() > 1 + 1e-3 else 0
    tf = [ax0] + [i for i in range(3) if i != ax0]
    tb = [int(i) for i in np.argsort(tf)]
    sp_t = [float(med_sp[t]) for t in tf]
    target = sp_t[:1] + [max(s, b['min_spacing_mm']) for s in sp_t[1:]]
    med_shape = np.median(np.array(fp['shapes_after_crop'])[:, tf], 0)
    inplane = [med_shape[i + 1] * sp_t[i + 1] / target[i + 1] for i in range(2)]
    # Patch: median in-plane shape rounded up to a multiple of 2^5, then shrink the larger axis to budget.
    patch = [int(np.ceil(s / 32) * 32) for s in inplane]
    while patch[0] * patch[1] > b['max_patch_pixels']:
        i = int(np.argmax(patch))
        patch[i] -= 32
    pools = [_n_pool(p, b['min_feature_map']) for p in patch]
    n_stages = max(pools) + 1
    strides = [[1, 1]] + [[2 if s < pools[a] else 1 for a in range(2)] for s in range(n_stages - 1)]
    feats = [min(b['base_features'] * 2**i, b['max_features']) for i in range(n_stages)]
    shrink = np.prod(np.array(fp['shapes_after_crop']), 1) / np.prod(np.array(fp['shapes_before_crop']), 1)
    is_ct = [n.upper() == 'CT' for n in dataset_json['channel_names'].values()]
    schemes = ['CTNormalization' if ct else 'ZScoreNormalization' for ct in is_ct]
    # nnU-Net: normalise only inside the non-zero mask when cropping removed >= 25 % of the image (non-CT).
    use_mask = [(not ct) and float(np.median(shrink)) < 0.75 for ct in is_ct]
    conf = {
        'data_identifier': 'nnUNetPlans_2d',
        'preprocessor_name': 'DefaultPreprocessor',
        'batch_size': int(b['batch_size']),
        'patch_size': patch,
        'median_image_size_in_voxels': [float(x) for x in med_shape[1:]],
        'spacing': target,
        'normalization_schemes': schemes,
        'use_mask_for_norm': use_mask,
        'resampling_fn_data': 'resample_data_or_seg_to_shape',
        'resampling_fn_seg': 'resample_data_or_seg_to_shape',
        'resampling_fn_data_kwargs': {'is_seg': False, 'order': 3, 'order_z': 0, 'force_separate_z': None},
        'resampling_fn_seg_kwargs': {'is_seg': True, 'order': 1, 'order_z': 0, 'force_separate_z': None},
        'resampling_fn_probabilities': 'resample_data_or_seg_to_shape',
        'resampling_fn_probabilities_kwargs': {'is_seg': False, 'order': 1, 'order_z': 0, 'force_separate_z': None},
        'architecture': {
            'network_class_name': 'dynamic_network_architectures.architectures.unet.PlainConvUNet',
            'arch_kwargs': {
                'n_stages': n_stages, 'features_per_stage': feats,
                'conv_op': 'torch.nn.modules.conv.Conv2d',
                'kernel_sizes': [[3, 3]] * n_stages, 'strides': strides,
                'n_conv_per_stage': [2] * n_stages, 'n_conv_per_stage_decoder': [2] * (n_stages - 1),
                'conv_bias': True, 'norm_op': 'torch.nn.modules.instancenorm.InstanceNorm2d',
                'norm_op_kwargs': {'eps': 1e-05, 'affine': True}, 'dropout_op': None, 'dropout_op_kwargs': None,
                'nonlin': 'torch.nn.LeakyReLU', 'nonlin_kwargs': {'inplace': True},
            },
            '_kw_requires_import': ['conv_op', 'norm_op', 'dropout_op', 'nonlin'],
        },
        'batch_dice': True,
    }
    return {
        'dataset_name': dataset_json.get('name', 'brain-wm'),
        'plans_name': 'nnUNetPlans',
        'original_median_spacing_after_transp': sp_t,
        'original_median_shape_after_transp': [int(x) for x in med_shape],
        'image_reader_writer': 'NibabelIO',
        'transpose_forward': tf,
        'transpose_backward': tb,
        'configurations': {'2d': conf},
        'experiment_planner_used': 'nnsam-edge training.planner (budgeted ExperimentPlanner)',
        'label_manager': 'LabelManager',
        'foreground_intensity_properties_per_channel': fp['foreground_intensity_properties_per_channel'],
        'budget': b,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--dataset', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--budget', default='{}', help='JSON object overriding the budget keys')
    a = ap.parse_args()
    plans = plan_2d(fingerprint(a.dataset), read_dataset_json(a.dataset), json.loads(a.budget))
    with open(a.out, 'w') as f:
        json.dump(plans, f, indent=2)


if __name__ == '__main__':
    main()
