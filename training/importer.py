"""Import an nnU-Net v2 / nnSAM result folder (plans.json, dataset.json, fold_N/checkpoint_final.pth)
into models/<id>: one ONNX per fold (+ fp16 variant), manifest.json, parity-checked.

Official nnU-Net v2 checkpoints carry no level-set head; the ONNX then has only the `logits` output
and the manifest says so. Our own runs (training.train) use the same layout and the same path.

Run: /usr/bin/python3 -m training.importer --folder RESULT_FOLDER --out models/<id> --folds 0
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

from .export import export_onnx, parity, round_to_fp16, round_to_int8, to_fp16_weights, to_int8_weights, unet_cfg
from .nets.nnsam import NnSam
from .nets.plain_conv_unet import PlainConvUNet, config_from_plans, load_nnunet_weights


def build_from_checkpoint(plans: dict, ds: dict, ck: dict, configuration: str = '2d',
                          sam_checkpoint: str | None = None) -> torch.nn.Module:
    """Network matching the checkpoint's keys: PlainConvUNet with or without the level-set head, or NnSam."""
    state = ck['network_weights']
    nc = len(ds['labels']) if 'regions_class_order' not in ds else len(ds['regions_class_order'])
    has_ls = any(k.startswith(('decoder.levelset_layer.', 'unet.decoder.levelset_layer.')) for k in state)
    cfg = config_from_plans(plans, nc, configuration, deep_supervision=True, levelset_head=has_ls)
    if any(k.startswith('image_encoder.') for k in state):
        net = NnSam(cfg, sam_checkpoint=sam_checkpoint)
        net.load_state_dict(state, strict=True)
    else:
        net = PlainConvUNet(cfg)
        load_nnunet_weights(net, state) if not has_ls else net.load_state_dict(state, strict=True)
    return net.eval()


def read_folder(folder: str, fold: int):
    """(plans, dataset.json, checkpoint) of one fold."""
    with open(os.path.join(folder, 'plans.json')) as f:
        plans = json.load(f)
    with open(os.path.join(folder, 'dataset.json')) as f:
        ds = json.load(f)
    ck = torch.load(os.path.join(folder, f'fold_{fold}', 'checkpoint_final.pth'), map_location='cpu')
    return plans, ds, ck


def import_folder(folder: str, out: str, folds=(0,), fp16: bool = True, fp16_only: bool = False,
                  real_patches: np.ndarray | None = None, tol: float = 1e-4, int8: bool = False) -> dict:
    """Export each fold; returns {'files': {...}, 'parity': {...}, 'plans', 'dataset', 'net', 'mirroring'}."""
    os.makedirs(out, exist_ok=True)
    files, par, net, plans, ds, mirror = {}, {}, None, None, None, [0, 1]
    for fold in folds:
        plans, ds, ck = read_folder(folder, fold)
        conf = ck.get('init_args', {}).get('configuration', '2d')
        if conf != '2d':
            raise ValueError(f'only 2d configurations are supported, got {conf}')
        mirror = list(ck.get('inference_allowed_mirroring_axes') or [])
        net = build_from_checkpoint(plans, ds, ck)
        patch = plans['configurations']['2d']['patch_size']
        cin = unet_cfg(net).input_channels
        stem = 'model' if len(folds) == 1 else f'model_fold{fold}'
        fp32_path = os.path.join(out, stem + '.onnx')
        export_onnx(net, fp32_path, cin, patch)
        x = np.random.default_rng(fold).standard_normal((2, cin, *patch)).astype(np.float32)
        checks = {'random': x} if real_patches is None else {'random': x, 'real': real_patches}
        if fp16:
            fp16_path = os.path.join(out, stem + '.fp16.onnx')
            to_fp16_weights(fp32_path, fp16_path)
        if not fp16_only:
            files[stem + '.onnx'] = {'fold': fold, 'precision': 'fp32'}
            par[stem + '.onnx'] = {k: parity(net, fp32_path, v) for k, v in checks.items()}
        if fp16:
            round_to_fp16(net)  # compare the fp16 file with the weights it actually stores
            files[stem + '.fp16.onnx'] = {'fold': fold, 'precision': 'fp16-weights (fp32 compute, fp32 I/O)'}
            par[stem + '.fp16.onnx'] = {k: parity(net, fp16_path, v) for k, v in checks.items()}
        if int8:
            int8_path = os.path.join(out, stem + '.int8.onnx')
            to_int8_weights(fp32_path, int8_path)
            net8 = build_from_checkpoint(plans, ds, ck)
            round_to_int8(net8)  # the int8 file against the weights it stores, like fp16
            files[stem + '.int8.onnx'] = {'fold': fold, 'precision': 'int8-weights per channel (fp32 compute, fp32 I/O)'}
            par[stem + '.int8.onnx'] = {k: parity(net8, int8_path, v) for k, v in checks.items()}
        if fp16_only:
            os.remove(fp32_path)
    # Each file is compared with the weights it stores (fp16 files with fp16-rounded weights).
    worst = max(v for p in par.values() for c in p.values() for v in c.values())
    if worst > tol:
        raise AssertionError(f'ONNX parity {worst} exceeds {tol}: {par}')
    return {'files': files, 'parity': par, 'plans': plans, 'dataset': ds, 'net': net, 'mirroring': mirror}


def imported_manifest(mid: str, r: dict, folds: list, source: str, license: str, version: str) -> dict:
    """The manifest of an imported folder: nnU-Net's readers give A[z, y, x], so its axes are 'nnunet'."""
    from .export import manifest_dict

    extra = {'folds': folds, 'mirroring_axes': r['mirroring'], 'license': license, 'array_axes': 'nnunet',
             'version': version,
             'provenance': {'imported_from': os.path.abspath(source), 'importer': 'training.importer'},
             'parity_max_abs_diff': r['parity']}
    m = manifest_dict(mid, r['plans'], r['dataset'], r['files'], r['net'], extra)
    m['parity_onnxruntime_node'] = r['parity']
    return m


def main() -> None:
    from .export import write_manifest

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--folder', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--folds', default='0')
    ap.add_argument('--id', default=None)
    ap.add_argument('--license', default='see the source result folder')
    ap.add_argument('--version', default='0.0.0', help='the release version written to the manifest')
    a = ap.parse_args()
    folds = [int(f) for f in a.folds.split(',')]
    r = import_folder(a.folder, a.out, folds)
    mid = a.id or os.path.basename(os.path.normpath(a.out))
    write_manifest(a.out, imported_manifest(mid, r, folds, a.folder, a.license, a.version))
    print(json.dumps(r['parity'], indent=2))


if __name__ == '__main__':
    main()
