"""PyTorch CPU time of one forward pass of a released model's network, for bench/engine.ts.
Usage: engine_torch.py MODEL_DIR BATCH RUNS THREADS -> JSON {"torch_ms": median, "parity_max_abs": ...}.

The network is rebuilt from the release folder with the weights of its model.onnx
(training/onnx_weights.py), whose logits must match the release's PyTorch golden (parity/) before
anything is timed: the network and weights onnxruntime-node runs, not just the same shapes.
"""

import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..')))
from training.onnx_weights import release_network  # noqa: E402


def main() -> None:
    folder, batch, runs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    net, diff = release_network(folder)
    with open(os.path.join(folder, 'plans.json')) as f:
        plans = json.load(f)
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
