#!/usr/bin/env bash
# Rebuilds test/models/wm-tiny-2d: a deliberately tiny 2D U-Net (features 4-16, 64x64 patches, about
# 40 k parameters) trained for 2000 iterations on ../shared/data/brain-wm with fsA held out, released
# by the same training/ code as the shipped models (ONNX, parity goldens, manifest, card).
# It exists for the WebGPU tests: SwiftShader (CPU Vulkan) needs about 20 s for one 128x128 patch of
# brain-wm-2d, and milliseconds for one patch of this model. Not a shipped model: nnsam models does not list it.
# Needs Debian's python3-torch / python3-onnx (no PyPI); about 2-3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
OMP_NUM_THREADS=1 /usr/bin/python3 -m training.train --dataset ../shared/data/brain-wm --model-id wm-tiny-2d \
  --val-case fsA --iters 2000 --seed 0 --threads 1 --val-every 100000 --runs "$runs" \
  --budget '{"max_patch_pixels": 4096, "base_features": 4, "max_features": 16, "batch_size": 4, "min_feature_map": 8}'
rm -rf test/models/wm-tiny-2d
/usr/bin/python3 -m training.release --run "$runs/wm-tiny-2d" --dataset ../shared/data/brain-wm \
  --out test/models/wm-tiny-2d --version 1.0.0
