"""PyTorch CPU time of one forward pass of a released model's network, for bench/engine.ts.
Usage: engine_torch.py MODEL_DIR BATCH RUNS THREADS -> JSON {"torch_ms": median, "parity_max_abs": ...}.

The release folder carries no PyTorch checkpoint (the run folder, training/runs/<id>, is git-ignored
and exists only where the model was trained), so the network is built from the release's plans.json
and dataset.json and given the weights of its model.onnx: the convolutions' by their exported names,
each instance norm's scale and shift from the Mul and Add its export scope names. The logits must
match the release's PyTorch golden (parity/) before anything is timed: the network and weights
onnxruntime-node runs, not just the same shapes.
"""

import json
import os
import sys
import time

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..')))
from training.nets.plain_conv_unet import PlainConvUNet, config_from_plans  # noqa: E402

PARITY_TOL = 1e-4


def module_of(scope: str) -> str:
    """`/net/encoder/stages.0/stages.0.0/convs/convs.0/all_modules/norm/Mul_1_output_0` ->
    `encoder.stages.0.0.convs.0.norm`: torch.onnx writes each module's cumulative name as a segment."""
    segs = [s for s in scope.split('/')[2:-1] if s != 'all_modules']
    kept = [s for i, s in enumerate(segs) if not (i + 1 < len(segs) and segs[i + 1].startswith(s + '.'))]
    return '.'.join(kept)


def onnx_state(path: str) -> dict:
    m = onnx.load(path)
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    state = {k[len('net.'):]: torch.from_numpy(v.copy()) for k, v in init.items() if k.startswith('net.')}
    for n in m.graph.node:
        for op, field in (('Mul', 'weight'), ('Add', 'bias')):
            if n.op_type == op and n.output[0].endswith(f'/norm/{op}_1_output_0') and n.input[1] in init:
                state[f'{module_of(n.output[0])}.{field}'] = torch.from_numpy(init[n.input[1]].reshape(-1).copy())
    return state


def main() -> None:
    folder, batch, runs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    with open(os.path.join(folder, 'manifest.json')) as f:
        man = json.load(f)
    if man.get('sam_branch'):
        raise SystemExit('an nnSAM release: this benchmark times the plain U-Net only')
    with open(os.path.join(folder, 'plans.json')) as f:
        plans = json.load(f)
    levelset = any(o.get('kind') == 'levelset' for o in man['onnx']['outputs'])
    cfg = config_from_plans(plans, len(man['dataset']['labels']), '2d', deep_supervision=False,
                            levelset_head=levelset)
    net = PlainConvUNet(cfg).eval()
    state = onnx_state(os.path.join(folder, 'model.onnx'))
    unknown = set(state) - set(net.state_dict())
    if unknown:
        raise SystemExit(f'weights the network does not have: {sorted(unknown)[:5]}')
    net.load_state_dict(state, strict=False)
    with torch.no_grad():
        x = torch.from_numpy(np.load(os.path.join(folder, 'parity', 'input.npy')))
        out = net(x)
        seg = out[0] if isinstance(out, (list, tuple)) else out
        seg = seg[0] if isinstance(seg, (list, tuple)) else seg
        diff = float(np.abs(seg.numpy() - np.load(os.path.join(folder, 'parity', 'logits.npy'))).max())
    if diff > PARITY_TOL:
        raise SystemExit(f'the rebuilt network misses the parity golden by {diff}: its weights are not the release\'s')
    patch = plans['configurations']['2d']['patch_size']
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((batch, 1, *patch)).astype(np.float32))
    times = []
    with torch.no_grad():
        net(x)
        for _ in range(runs):
            t = time.perf_counter()
            net(x)
            times.append((time.perf_counter() - t) * 1000)
    print(json.dumps({'torch_ms': float(np.median(times)), 'parity_max_abs': diff}))


if __name__ == '__main__':
    main()
