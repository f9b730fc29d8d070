"""Retrain a shipped model from scratch in one command: the model, its no-level-set ablation (same seed
and budget, run side by side on one thread each) unless --no-ablation, then the release into models/<id>.

  /usr/bin/python3 -m training.retrain --dataset ../shared/data/brain-wm --model-id brain-wm-2d \
      --iters 3000 --domain-rand 8 --no-ablation --version 2.0.0
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--dataset', required=True)
    ap.add_argument('--model-id', required=True)
    ap.add_argument('--val-case', default='fsA')
    ap.add_argument('--iters', type=int, default=2500)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--version', required=True, help='the release version written to the manifest')
    ap.add_argument('--domain-rand', type=int, default=0, help='randomised volumes in the pool (train.py)')
    ap.add_argument('--no-ablation', action='store_true', help='skip the --w-ls 0 ablation run')
    ap.add_argument('--edge-max-voxels', type=int, default=262144,
                    help='edge-capable up to this many voxels (0: nodes only)')
    a = ap.parse_args()
    common = [sys.executable, '-m', 'training.train', '--dataset', a.dataset, '--val-case', a.val_case,
              '--iters', str(a.iters), '--seed', str(a.seed), '--threads', '1', '--domain-rand', str(a.domain_rand)]
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    procs = [subprocess.Popen(common + ['--model-id', a.model_id, '--w-ls', '1.0'], cwd=REPO, env=env)]
    if not a.no_ablation:
        procs.append(subprocess.Popen(common + ['--model-id', a.model_id + '-no-ls', '--w-ls', '0'], cwd=REPO, env=env))
    if any(p.wait() != 0 for p in procs):
        sys.exit('a training run failed')
    runs = os.path.join(REPO, 'training', 'runs')
    subprocess.run([sys.executable, '-m', 'training.release', '--run', os.path.join(runs, a.model_id),
                    *([] if a.no_ablation else ['--ablation-run', os.path.join(runs, a.model_id + '-no-ls')]),
                    '--dataset', a.dataset,
                    '--out', os.path.join(REPO, 'models', a.model_id), '--version', a.version,
                    '--edge-max-voxels', str(a.edge_max_voxels)], cwd=REPO, env=env, check=True)


if __name__ == '__main__':
    main()
