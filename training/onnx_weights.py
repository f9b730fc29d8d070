"""A released network's PyTorch weights, read back from its model.onnx.

Release folders carry no PyTorch checkpoint (the run folder, training/runs/<id>, is git-ignored and exists
only where the model was trained). The convolutions' weights keep their exported names; each instance
norm's scale and shift are the initialisers of the Mul and Add its export scope names. The deep-supervision
heads of the lower decoder stages are not in the export (inference uses the top one only), so a network
built with deep supervision gets those from its own initialisation.
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from .nets.plain_conv_unet import PlainConvUNet, config_from_plans

PARITY_TOL = 1e-4


def module_of(scope: str) -> str:
    """`/net/encoder/stages.0/stages.0.0/convs/convs.0/all_modules/norm/Mul_1_output_0` ->
    `encoder.stages.0.0.convs.0.norm`: torch.onnx writes each module's cumulative name as a segment."""
    segs = [s for s in scope.split('/')[2:-1] if s != 'all_modules']
    kept = [s for i, s in enumerate(segs) if not (i + 1 < len(segs) and segs[i + 1].startswith(s + '.'))]
    return '.'.join(kept)


def onnx_state(path: str) -> dict:
    """The state dict (PlainConvUNet keys) of the weights in an exported model.onnx."""
    m = onnx.load(path)
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    state = {k[len('net.'):]: torch.from_numpy(v.copy()) for k, v in init.items() if k.startswith('net.')}
    for n in m.graph.node:
        for op, field in (('Mul', 'weight'), ('Add', 'bias')):
            if n.op_type == op and n.output[0].endswith(f'/norm/{op}_1_output_0') and n.input[1] in init:
                state[f'{module_of(n.output[0])}.{field}'] = torch.from_numpy(init[n.input[1]].reshape(-1).copy())
    return state


def load_release_weights(net: torch.nn.Module, folder: str) -> float:
    """Give `net` the weights of the release in `folder`, then check them: the top-level logits on the
    release's parity input must match its PyTorch golden (parity/logits.npy) within PARITY_TOL, so the
    network really is the one onnxruntime runs, not just the same shapes. Returns that difference."""
    state = onnx_state(os.path.join(folder, 'model.onnx'))
    unknown = set(state) - set(net.state_dict())
    if unknown:
        raise SystemExit(f'weights the network does not have: {sorted(unknown)[:5]}')
    net.load_state_dict(state, strict=False)
    was_training = net.training
    net.eval()
    with torch.no_grad():
        out = net(torch.from_numpy(np.load(os.path.join(folder, 'parity', 'input.npy'))))
    net.train(was_training)
    seg = out[0] if isinstance(out, (list, tuple)) else out
    seg = seg[0] if isinstance(seg, (list, tuple)) else seg
    diff = float(np.abs(seg.detach().numpy() - np.load(os.path.join(folder, 'parity', 'logits.npy'))).max())
    if diff > PARITY_TOL:
        raise SystemExit(f"the rebuilt network misses {folder}'s parity golden by {diff}: its weights are not the release's")
    return diff


def release_network(folder: str) -> tuple[torch.nn.Module, float]:
    """The plain U-Net of a release folder (plans.json, manifest.json, model.onnx), in eval mode, and its
    parity difference."""
    with open(os.path.join(folder, 'manifest.json')) as f:
        man = json.load(f)
    if man.get('sam_branch'):
        raise SystemExit('an nnSAM release: only plain U-Net releases can be rebuilt from their ONNX')
    with open(os.path.join(folder, 'plans.json')) as f:
        plans = json.load(f)
    levelset = any(o.get('kind') == 'levelset' for o in man['onnx']['outputs'])
    cfg = config_from_plans(plans, len(man['dataset']['labels']), '2d', deep_supervision=False,
                            levelset_head=levelset)
    net = PlainConvUNet(cfg).eval()
    return net, load_release_weights(net, folder)
