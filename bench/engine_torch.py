"""PyTorch CPU time of one forward pass of a released model's network (fp16-rounded weights, as in
model.onnx), for bench/engine.ts. Usage: engine_torch.py RUN_DIR BATCH RUNS THREADS -> JSON {"torch_ms": median}.
"""

import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..')))
from training.export import round_to_fp16, unet_cfg  # noqa: E402
from training.importer import build_from_checkpoint, read_folder  # noqa: E402


def main() -> None:
    run, batch, runs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    plans, ds, ck = read_folder(run, 0)
    net = build_from_checkpoint(plans, ds, ck)
    round_to_fp16(net)
    unet_cfg(net).deep_supervision = False
    net.eval()
    patch = plans['configurations']['2d']['patch_size']
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((batch, 1, *patch)).astype(np.float32))
    times = []
    with torch.no_grad():
        net(x)
        for _ in range(runs):
            t = time.perf_counter()
            net(x)
            times.append((time.perf_counter() - t) * 1000)
    print(json.dumps({'torch_ms': float(np.median(times))}))


if __name__ == '__main__':
    main()
