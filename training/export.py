"""Export a trained run (nnU-Net v2 result-folder layout) to models/<id>: ONNX (opset 17), fp16 variant,
manifest.json (everything inference needs, SHA-256 per file), parity-checked with onnxruntime-node.

Run: /usr/bin/python3 -m training.export --run training/runs/brain-wm-2d --out models/brain-wm-2d
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import tempfile
import types

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from .nets.factory import build_network

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
OPSET = 17
INPUT, OUT_LOGITS, OUT_LEVELSET = 'input', 'logits', 'levelset'


class InferenceGraph(nn.Module):
    """What the ONNX file computes: normalised patch -> (full-resolution logits, tanh level set)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        seg, ls = self.net(x)
        return (seg[0] if isinstance(seg, (list, tuple)) else seg), ls


def unet_cfg(net):
    """The UNetConfig of a PlainConvUNet or NnSam."""
    return net.unet.cfg if hasattr(net, 'unet') else net.cfg


def _two_pass_instance_norm(self, x):
    """InstanceNorm as explicit ops: mean over W then over H, then the variance the same way.

    onnxruntime sums a whole 128 x 128 map in one float32 pass (InstanceNormalization or ReduceMean
    over both axes); on brain-wm-2d that cost 1.4e-4 on logits against float64, while PyTorch fp32
    stayed within 1e-5. Reducing one axis at a time brings ORT to ~1e-5 of PyTorch.
    """
    mean = x.mean(dim=3, keepdim=True).mean(dim=2, keepdim=True)
    d = x - mean
    var = (d * d).mean(dim=3, keepdim=True).mean(dim=2, keepdim=True)
    y = d / torch.sqrt(var + self.eps)
    if self.affine:
        y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
    return y


def export_onnx(net: nn.Module, path: str, in_channels: int, patch) -> None:
    """Trace in eval mode without deep supervision; batch axis dynamic, patch fixed."""
    cfg = unet_cfg(net)
    ds = cfg.deep_supervision
    cfg.deep_supervision = False
    net.eval()
    norms = [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
    for m in norms:
        m.forward = types.MethodType(_two_pass_instance_norm, m)
    try:
        x = torch.zeros(1, in_channels, *patch)
        names = [OUT_LOGITS] + ([OUT_LEVELSET] if cfg.levelset_head else [])
        torch.onnx.export(InferenceGraph(net), x, path, opset_version=OPSET, input_names=[INPUT],
                          output_names=names, dynamic_axes={n: {0: 'batch'} for n in [INPUT] + names},
                          do_constant_folding=True)
    finally:
        cfg.deep_supervision = ds
        for m in norms:
            del m.forward  # back to the class's forward
    onnx.checker.check_model(onnx.load(path))


def _save_with_prologue(m: onnx.ModelProto, nodes: list, dst: str) -> None:
    """Put `nodes` (which restore float32 weights from their stored form) first in the graph, check, save."""
    rest = list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(nodes + rest)
    onnx.checker.check_model(m)
    onnx.save(m, dst)


def to_fp16_weights(src: str, dst: str) -> None:
    """Store every float32 initializer as float16 and Cast it back to float32 at load (fp32 compute).

    ORT folds the casts once at session creation, so I/O stays float32 and the edge runtime needs no
    fp16 kernels; the file is half the size and the weights are rounded to fp16.
    """
    m = onnx.load(src)
    casts = []
    for init in m.graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        arr = numpy_helper.to_array(init).astype(np.float16)
        name = init.name
        init.CopyFrom(numpy_helper.from_array(arr, name + '__fp16'))
        casts.append(helper.make_node('Cast', [name + '__fp16'], [name], to=TensorProto.FLOAT,
                                      name='cast_' + name))
    _save_with_prologue(m, casts, dst)


def round_to_fp16(net: nn.Module) -> None:
    """Round parameters and buffers to fp16-representable values (what the fp16 variant stores)."""
    with torch.no_grad():
        for t in list(net.parameters()) + [b for b in net.buffers() if b.is_floating_point()]:
            t.copy_(t.half().float())


def int8_per_channel(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 along axis 0 (zero point 0): (q, scale) with w ~= q * scale[:, None, ...]."""
    flat = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    scale = (np.where(flat > 0, flat, 1.0) / 127.0).astype(np.float32)
    q = np.clip(np.round(w / scale.reshape(-1, *[1] * (w.ndim - 1))), -127, 127).astype(np.int8)
    return q, scale


def _quantizable(arr: np.ndarray) -> bool:
    """A PyTorch parameter that is a convolution kernel (4D): nearly all the bytes; norms and biases stay float32."""
    return arr.ndim == 4 and arr.dtype == np.float32


def to_int8_weights(src: str, dst: str) -> None:
    """Store each convolution kernel as int8 with a float32 scale per output channel, restored by a
    DequantizeLinear node; compute and I/O stay float32, so any ONNX runtime's CPU kernels run it.

    Weight-only quantisation: a quarter of the fp32 bytes. Activations are not quantised, because a
    calibrated int8 graph would need int8 convolution kernels the edge runtime does not have.
    """
    m = onnx.load(src)
    # The kernels are the weight inputs of the convolutions (the exporter also makes 4D norm constants).
    kernels = {n.input[1] for n in m.graph.node if n.op_type in ('Conv', 'ConvTranspose')}
    dq, scales = [], []
    for init in m.graph.initializer:
        if init.data_type != TensorProto.FLOAT or init.name not in kernels:
            continue
        q, scale = int8_per_channel(numpy_helper.to_array(init))
        name = init.name
        init.CopyFrom(numpy_helper.from_array(q, name + '__int8'))
        scales += [numpy_helper.from_array(scale, name + '__scale'),
                   numpy_helper.from_array(np.zeros_like(scale, np.int8), name + '__zero')]
        dq.append(helper.make_node('DequantizeLinear', [name + '__int8', name + '__scale', name + '__zero'], [name],
                                   axis=0, name='dequantize_' + name))
    m.graph.initializer.extend(scales)
    _save_with_prologue(m, dq, dst)


def round_to_int8(net: nn.Module) -> None:
    """Replace each convolution kernel by its int8 reconstruction (what the int8 variant stores), computed
    as the runtime's DequantizeLinear does: float32(q) * scale."""
    with torch.no_grad():
        for t in net.parameters():
            arr = t.detach().cpu().numpy()
            if _quantizable(arr):
                q, scale = int8_per_channel(arr)
                t.copy_(torch.from_numpy(q.astype(np.float32) * scale.reshape(-1, 1, 1, 1)))


def run_onnx_node(model: str, x: np.ndarray) -> dict:
    """Run the model with onnxruntime-node (training/onnx_run.mjs); returns {output name: array}."""
    with tempfile.TemporaryDirectory() as d:
        inp = os.path.join(d, 'input.npy')
        np.save(inp, np.ascontiguousarray(x, dtype=np.float32))
        subprocess.run(['node', os.path.join(REPO, 'training', 'onnx_run.mjs'), model, inp, d], check=True,
                       cwd=REPO, capture_output=True, text=True)
        return {n: np.load(os.path.join(d, n + '.npy')) for n in (OUT_LOGITS, OUT_LEVELSET)
                if os.path.exists(os.path.join(d, n + '.npy'))}


@torch.no_grad()
def parity(net: nn.Module, model: str, x: np.ndarray) -> dict:
    """Max abs difference ONNX (onnxruntime-node) vs PyTorch, per output."""
    cfg = unet_cfg(net)
    ds = cfg.deep_supervision
    cfg.deep_supervision = False
    net.eval()
    try:
        ref = InferenceGraph(net)(torch.from_numpy(x))
    finally:
        cfg.deep_supervision = ds
    got = run_onnx_node(model, x)
    out = {OUT_LOGITS: float(np.abs(got[OUT_LOGITS] - ref[0].numpy()).max())}
    if ref[1] is not None:
        out[OUT_LEVELSET] = float(np.abs(got[OUT_LEVELSET] - ref[1].numpy()).max())
    return out


def sha256(path: str) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def load_run(run: str, fold: int = 0, checkpoint: str = 'checkpoint_final.pth'):
    """(net, plans, dataset_json, checkpoint dict) from an nnU-Net v2 style result folder."""
    with open(os.path.join(run, 'plans.json')) as f:
        plans = json.load(f)
    with open(os.path.join(run, 'dataset.json')) as f:
        ds = json.load(f)
    ck = torch.load(os.path.join(run, f'fold_{fold}', checkpoint), map_location='cpu')
    sam = bool(ck.get('init_args', {}).get('nnsam_edge', {}).get('sam', False))
    net = build_network(plans, len(ds['labels']), sam=sam)
    net.load_state_dict(ck['network_weights'], strict=True)
    net.eval()
    return net, plans, ds, ck


REFINE_KEYS = ('levelset_weight', 'iterations', 'band_voxels', 'dt_fraction')


def _is_number(x) -> bool:
    """A JSON number (JSON's true is not one, though Python's bool is an int)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def refine_settings(refine: dict, levelset_head: bool) -> dict:
    """The manifest's `inference.refine` (tuned by bench/refine.ts): checked here as the engine's
    `checkManifest` checks it, so that a release never writes one the engine refuses."""
    if not levelset_head:
        raise ValueError('inference.refine needs a level-set head')
    unknown = sorted(set(refine) - set(REFINE_KEYS))
    if unknown:
        raise ValueError(f'inference.refine has unknown keys {unknown}')
    w, n = refine.get('levelset_weight'), refine.get('iterations')
    band, dt = refine.get('band_voxels'), refine.get('dt_fraction')
    if not (_is_number(w) and 0 <= w <= 1):
        raise ValueError(f'inference.refine.levelset_weight must be in [0, 1], got {w!r}')
    if not (_is_number(n) and float(n).is_integer() and n >= 0):
        raise ValueError(f'inference.refine.iterations must be a non-negative integer, got {n!r}')
    if band is not None and not (_is_number(band) and 0 < band < float('inf')):
        raise ValueError(f'inference.refine.band_voxels must be a positive number, got {band!r}')
    if dt is not None and not (_is_number(dt) and 0 < dt <= 1):
        raise ValueError(f'inference.refine.dt_fraction must be in (0, 1], got {dt!r}')
    return {k: refine[k] for k in REFINE_KEYS if k in refine}


def manifest_dict(model_id: str, plans: dict, ds: dict, files: dict, net: nn.Module, extra: dict) -> dict:
    """The manifest: plans fields, labels, intensity properties, inference settings, ONNX I/O, files."""
    c = plans['configurations']['2d']
    cfg = unet_cfg(net)
    outputs = [{'name': OUT_LOGITS, 'shape': ['batch', cfg.num_classes, *c['patch_size']], 'dtype': 'float32',
                'kind': 'segmentation_logits'}]
    if cfg.levelset_head:
        outputs.append({'name': OUT_LEVELSET, 'shape': ['batch', cfg.num_classes - 1, *c['patch_size']],
                        'dtype': 'float32', 'kind': 'levelset',
                        'semantics': 'tanh(signed_distance_voxels / tau), positive inside, one map per '
                                     'foreground class in label order', 'tau': extra.get('tau', 4.0)})
    m = {
        'format': 'nnsam-edge-model/1',
        'id': model_id,
        'version': extra.get('version', '0.0.0'),
        'modality': list(ds['channel_names'].values()),
        'configuration': '2d',
        'onnx': {'opset': OPSET, 'inputs': [{'name': INPUT, 'shape': ['batch', cfg.input_channels, *c['patch_size']],
                                              'dtype': 'float32', 'kind': 'normalised_patch'}],
                 'outputs': outputs},
        'plans': {
            'patch_size': c['patch_size'], 'spacing': c['spacing'], 'batch_size': c['batch_size'],
            'transpose_forward': plans['transpose_forward'], 'transpose_backward': plans['transpose_backward'],
            'normalization_schemes': c['normalization_schemes'], 'use_mask_for_norm': c['use_mask_for_norm'],
            'foreground_intensity_properties_per_channel': plans['foreground_intensity_properties_per_channel'],
            'resampling_fn_data_kwargs': c['resampling_fn_data_kwargs'],
            'resampling_fn_seg_kwargs': c['resampling_fn_seg_kwargs'],
            'resampling_fn_probabilities_kwargs': c['resampling_fn_probabilities_kwargs'],
            'original_median_spacing_after_transp': plans.get('original_median_spacing_after_transp'),
            'architecture': c.get('architecture'),
        },
        'dataset': {'labels': ds['labels'], 'regions_class_order': ds.get('regions_class_order'),
                    'channel_names': ds['channel_names'], 'file_ending': ds.get('file_ending', '.nii.gz')},
        'inference': {'mirroring_axes': extra.get('mirroring_axes', [0, 1]), 'folds': extra.get('folds', [0]),
                      'tile_step_size': 0.5, 'gaussian_sigma_scale': 0.125,
                      # Explicit even when nothing is done, so readers need no default.
                      'postprocessing': extra.get('postprocessing') or
                      {'keep_largest_foreground': False, 'keep_largest_labels': []},
                      # The array the plans' axes refer to: training/ reads nibabel's A[x, y, z];
                      # nnU-Net's readers give A[z, y, x] (imported models say 'nnunet').
                      'array_axes': extra.get('array_axes', 'nibabel')},
        'files': files,
    }
    if extra.get('refine') is not None:
        m['inference']['refine'] = refine_settings(extra['refine'], cfg.levelset_head)
    for k in ('name', 'stand_in', 'intended_use', 'license', 'provenance', 'metrics', 'sam_branch', 'prefers_gpu',
              'variants', 'edge'):
        if k in extra:
            m[k] = extra[k]
    return m


def write_manifest(model_dir: str, manifest: dict) -> None:
    """Fill in bytes + SHA-256 of each listed file, then write manifest.json."""
    for rel, meta in manifest['files'].items():
        p = os.path.join(model_dir, rel)
        meta['bytes'] = os.path.getsize(p)
        meta['sha256'] = sha256(p)
    with open(os.path.join(model_dir, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--run', required=True)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    net, plans, ds, _ = load_run(a.run)
    os.makedirs(a.out, exist_ok=True)
    patch = plans['configurations']['2d']['patch_size']
    export_onnx(net, os.path.join(a.out, 'model.onnx'), unet_cfg(net).input_channels, patch)
    x = np.random.default_rng(0).standard_normal((2, unet_cfg(net).input_channels, *patch)).astype(np.float32)
    print(json.dumps(parity(net, os.path.join(a.out, 'model.onnx'), x)))


if __name__ == '__main__':
    main()
