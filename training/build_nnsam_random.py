"""Build `nnsam-tinyvit-random`: the full nnSAM graph with a randomly initialised, frozen TinyViT.

An architecture stand-in for integration tests and benchmarks: its outputs mean nothing. With
`--sam-checkpoint mobile_sam.pt` the same graph gets MobileSAM's real encoder (the U-Net part stays
untrained; train it with `training.train --sam --sam-checkpoint mobile_sam.pt`).

Weights are stored as fp16 in the ONNX file (fp32 does not fit the 25 MB budget: TinyViT alone is
5.74 M parameters = 23 MB). To keep the PyTorch reference identical, the weights are rounded to fp16
before export.

Run: /usr/bin/python3 -m training.build_nnsam_random --plans-from training/runs/brain-wm-2d \
         --dataset ../shared/data/brain-wm --out models/nnsam-tinyvit-random
"""

from __future__ import annotations

import argparse
import json
import os
import shutil

import numpy as np
import torch

from .export import round_to_fp16
from .nets.nnsam import NnSam
from .nets.plain_conv_unet import config_from_plans


# Same criterion as the trained models. (Before InstanceNorm was exported axis by axis, ORT's
# single-pass float32 sums over 128 x 128 maps put this graph at 1.1e-4; now ~6e-5.)
STAND_IN_TOL = 1e-4


def build_run(plans_from: str, run: str, seed: int = 0, sam_checkpoint: str | None = None,
              budget: dict | None = None) -> str:
    """Write an nnU-Net-style result folder holding the randomly initialised nnSAM."""
    os.makedirs(os.path.join(run, 'fold_0'), exist_ok=True)
    with open(os.path.join(plans_from, 'plans.json')) as f:
        plans = json.load(f)
    if budget:  # a smaller U-Net keeps the whole graph inside the edge budget
        a = plans['configurations']['2d']['architecture']['arch_kwargs']
        a['features_per_stage'] = [min(budget['base_features'] * 2**i, budget['max_features'])
                                   for i in range(a['n_stages'])]
    with open(os.path.join(run, 'plans.json'), 'w') as f:
        json.dump(plans, f, indent=2)
    shutil.copyfile(os.path.join(plans_from, 'dataset.json'), os.path.join(run, 'dataset.json'))
    with open(os.path.join(run, 'dataset.json')) as f:
        nc = len(json.load(f)['labels'])
    torch.manual_seed(seed)
    net = NnSam(config_from_plans(plans, nc), sam_checkpoint=sam_checkpoint)
    round_to_fp16(net)
    torch.save({'network_weights': net.state_dict(),
                'init_args': {'configuration': '2d', 'fold': 0, 'nnsam_edge': {'sam': True, 'random': True}},
                'trainer_name': 'none (random initialisation, seed %d)' % seed,
                'inference_allowed_mirroring_axes': [0, 1]}, os.path.join(run, 'fold_0', 'checkpoint_final.pth'))
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--plans-from', required=True, help='a run folder whose plans.json/dataset.json to reuse')
    ap.add_argument('--out', required=True)
    ap.add_argument('--run', default=os.path.join(os.path.dirname(__file__), 'runs', 'nnsam-tinyvit-random'))
    ap.add_argument('--sam-checkpoint', default=None)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--dataset', default=None, help='for a real parity patch (optional)')
    ap.add_argument('--val-case', default='fsB')
    a = ap.parse_args()
    build_run(a.plans_from, a.run, a.seed, a.sam_checkpoint)
    from .release import release

    release(a.run, a.out, model_id=os.path.basename(os.path.normpath(a.out)), dataset=a.dataset, version='1.0.0',
            val_case=a.val_case if a.dataset else None, stand_in=True, tol=STAND_IN_TOL)


if __name__ == '__main__':
    main()
