"""Train a 2D nnU-Net (optionally nnSAM) with the level-set head on an nnU-Net v2 raw dataset.

One run:
  OMP_NUM_THREADS=1 /usr/bin/python3 -m training.train --dataset ../shared/data/brain-wm \
      --model-id brain-wm-2d --val-case fsB --iters 2500
`training.retrain` runs this, its ablation and the release in one command. The run folder is laid out like an nnU-Net v2 result folder (plans.json, dataset.json,
fold_0/checkpoint_final.pth), so `training.export` and `training.importer` read it the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time

import numpy as np
import torch

from .augment import BatchSampler
from .domain_rand import PROFILES, RawCase, VolumeStream
from .io_utils import list_cases, load_case, read_dataset_json
from .kmeans_baseline import brain_mask, kmeans_wm
from .losses import deep_supervision_loss, total_loss
from .metrics import evaluate
from .nets.factory import build_network
from .onnx_weights import load_release_weights
from .planner import fingerprint, plan_2d
from .predict import predict_volume
from .preprocessing import preprocess_case

DEFAULT_BUDGET = {'max_patch_pixels': 128 * 128, 'base_features': 16, 'max_features': 256, 'batch_size': 8}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--dataset', required=True)
    ap.add_argument('--model-id', required=True)
    ap.add_argument('--val-case', default='fsB', help='held-out case (never trained on)')
    ap.add_argument('--iters', type=int, default=3000)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--lr', type=float, default=0.01)
    ap.add_argument('--w-ls', type=float, default=1.0, help='level-set loss weight (0 = ablation)')
    ap.add_argument('--w-curv', type=float, default=0.1)
    ap.add_argument('--tau', type=float, default=4.0)
    ap.add_argument('--budget', default=json.dumps(DEFAULT_BUDGET))
    ap.add_argument('--sam', action='store_true', help='nnSAM: add the frozen TinyViT branch')
    ap.add_argument('--sam-checkpoint', default=None, help='mobile_sam.pt (image_encoder.* keys)')
    ap.add_argument('--val-every', type=int, default=250)
    ap.add_argument('--threads', type=int, default=int(os.environ.get('OMP_NUM_THREADS', '1')))
    ap.add_argument('--runs', default=os.path.join(os.path.dirname(__file__), 'runs'))
    ap.add_argument('--no-final-eval', action='store_true')
    ap.add_argument('--domain-rand', type=int, default=0, metavar='N',
                    help='domain randomisation (training/domain_rand.py): keep N randomised volumes in the pool '
                         'next to the clean training cases, drawn by a background process (0: off)')
    ap.add_argument('--dr-profile', default='v2', choices=sorted(PROFILES),
                    help="the randomisation's probabilities and ranges (training/domain_rand.py PROFILES)")
    ap.add_argument('--init', default=None, metavar='CHECKPOINT_OR_RELEASE',
                    help="start from these network weights, a run's checkpoint (.pth) or a release folder "
                         "(its model.onnx, parity-checked; the lower deep-supervision heads start fresh): a "
                         "fine-tune, the optimiser starts afresh")
    return ap.parse_args(argv)


def poly_lr(base: float, it: int, total: int) -> float:
    """nnU-Net's polynomial decay, exponent 0.9."""
    return base * (1 - it / total) ** 0.9


def val_batches(val_data, patch, nc, seed, n=4, bs=8):
    """A fixed set of un-augmented validation patches (1/3 foreground-forced), like nnU-Net's pseudo-Dice."""
    s = BatchSampler([val_data], patch, bs, nc, seed + 999, augment=False)
    return [s.next() for _ in range(n)]


@torch.no_grad()
def validate(net, batches, args) -> dict:
    """Validation loss and pooled Dice (tp/fp/fn over all patches) of class 1."""
    net.eval()
    loss, tp, fp, fn = 0.0, 0, 0, 0
    for x, seg, sdf in batches:
        outs, phi = net(torch.from_numpy(x))
        t = torch.from_numpy(seg)
        loss += float(total_loss(outs, phi, t, torch.from_numpy(sdf), args.w_ls, args.w_curv, args.tau)[0])
        pred = outs[0].argmax(1)
        tp += int(((pred == 1) & (t == 1)).sum())
        fp += int(((pred == 1) & (t != 1)).sum())
        fn += int(((pred != 1) & (t == 1)).sum())
    net.train()
    return {'val_loss': loss / len(batches), 'val_pseudo_dice': 2 * tp / max(2 * tp + fp + fn, 1)}


def checkpoint(net, opt, args, plans, it, path):
    """Save in nnU-Net v2's checkpoint layout (plus our own init args)."""
    torch.save({
        'network_weights': net.state_dict(),
        'optimizer_state': opt.state_dict(),
        'current_epoch': it,
        'init_args': {'configuration': '2d', 'fold': 0, 'nnsam_edge': {'sam': args.sam, 'w_ls': args.w_ls}},
        'trainer_name': 'nnsamEdgeTrainer_levelset' if args.w_ls > 0 else 'nnsamEdgeTrainer',
        'inference_allowed_mirroring_axes': [0, 1],
    }, path)


def main(argv=None) -> str:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    ds_json = read_dataset_json(args.dataset)
    nc = len(ds_json['labels'])
    train_cases = [c for c in list_cases(args.dataset) if c != args.val_case]
    run = os.path.join(args.runs, args.model_id)
    os.makedirs(os.path.join(run, 'fold_0'), exist_ok=True)
    # Plans come from the training cases only, so nothing about the held-out case leaks in.
    plans = plan_2d(fingerprint(args.dataset, train_cases), ds_json, json.loads(args.budget))
    plans['dataset_name'] = os.path.basename(os.path.normpath(args.dataset))
    with open(os.path.join(run, 'plans.json'), 'w') as f:
        json.dump(plans, f, indent=2)
    shutil.copyfile(os.path.join(args.dataset, 'dataset.json'), os.path.join(run, 'dataset.json'))
    patch = plans['configurations']['2d']['patch_size']
    bs = plans['configurations']['2d']['batch_size']

    def prep(case):
        img, seg, sp, _ = load_case(args.dataset, case)
        d, s, _ = preprocess_case(img, seg, sp, plans)
        return d, s

    train_data = [prep(c) for c in train_cases]
    val_data = prep(args.val_case)
    sampler = BatchSampler(train_data, patch, bs, nc, args.seed)
    stream, n_clean, drawn = None, len(train_data), 0
    if args.domain_rand > 0:
        raw = [RawCase(*load_case(args.dataset, c)[:3]) for c in train_cases]
        stream = VolumeStream(raw, plans, args.seed + 7, args.dr_profile)
    vb = val_batches(val_data, patch, nc, args.seed)

    net = build_network(plans, nc, sam=args.sam, sam_checkpoint=args.sam_checkpoint)
    if args.init and os.path.isdir(args.init):
        # A release's plans must be these plans (same training cases, same budget), or the weights would
        # meet another architecture or another normalisation.
        with open(os.path.join(args.init, 'plans.json')) as f:
            if json.load(f)['configurations'] != plans['configurations']:
                raise SystemExit(f'{args.init} was planned differently from this run')
        load_release_weights(net, args.init)
    elif args.init:
        # Same plans (they come from the same training cases), so the architecture and the keys match.
        net.load_state_dict(torch.load(args.init, map_location='cpu')['network_weights'])
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=args.lr, momentum=0.99, nesterov=True, weight_decay=3e-5)
    log_path = os.path.join(run, 'fold_0', 'training_log.jsonl')
    log = open(log_path, 'w')
    meta = {'event': 'start', 'args': vars(args), 'train_cases': train_cases, 'val_case': args.val_case,
            'n_params_trainable': sum(p.numel() for p in params)}
    log.write(json.dumps(meta) + '\n')
    t0, acc = time.time(), {}
    net.train()
    for it in range(args.iters):
        for g in opt.param_groups:
            g['lr'] = poly_lr(args.lr, it, args.iters)
        if stream is not None and it % 5 == 0:
            # One new volume at most every 5 steps keeps the drawing process to about a quarter of a core.
            got = stream.poll()
            if got is not None:
                # The pool: the clean cases first, then up to N randomised volumes, oldest replaced first.
                vol = got[1:]
                if len(sampler.cases) < n_clean + args.domain_rand:
                    sampler.cases.append(vol)
                else:
                    sampler.cases[n_clean + drawn % args.domain_rand] = vol
                drawn += 1
        x, seg, sdf = sampler.next()
        outs, phi = net(torch.from_numpy(x))
        loss, parts = total_loss(outs, phi, torch.from_numpy(seg), torch.from_numpy(sdf),
                                 args.w_ls, args.w_curv, args.tau)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 12)
        opt.step()
        for k, v in {'loss': float(loss.detach()), **parts}.items():
            acc[k] = acc.get(k, 0.0) + v
        if (it + 1) % 50 == 0:
            rec = {'it': it + 1, 'time_s': round(time.time() - t0, 1), 'lr': opt.param_groups[0]['lr'],
                   **({'volumes_drawn': drawn} if stream is not None else {}),
                   **{k: v / 50 for k, v in acc.items()}}
            acc = {}
            if (it + 1) % args.val_every == 0 or it + 1 == args.iters:
                rec.update(validate(net, vb, args))
                checkpoint(net, opt, args, plans, it + 1, os.path.join(run, 'fold_0', 'checkpoint_latest.pth'))
            log.write(json.dumps(rec) + '\n')
            log.flush()
    checkpoint(net, opt, args, plans, args.iters, os.path.join(run, 'fold_0', 'checkpoint_final.pth'))
    train_time = time.time() - t0
    if stream is not None:
        stream.close()
    result = {'train_time_s': round(train_time, 1), 'iters': args.iters}
    if not args.no_final_eval:
        result.update(final_eval(net, plans, args, nc))
    with open(os.path.join(run, 'fold_0', 'validation.json'), 'w') as f:
        json.dump(result, f, indent=2)
    log.write(json.dumps({'event': 'end', **result}) + '\n')
    log.close()
    return run


def final_eval(net, plans, args, nc) -> dict:
    """Full-volume prediction of the held-out case (mirroring TTA) and the k-means baseline on it."""
    img, lab, sp, _ = load_case(args.dataset, args.val_case)
    t = time.time()
    pred = predict_volume(net, img, sp, plans, nc)
    res = {'val_case': args.val_case, 'predict_time_s': round(time.time() - t, 1),
           'model': evaluate(pred == 1, lab == 1, sp)}
    res['kmeans'] = evaluate(kmeans_wm(img, brain_mask(img)), lab == 1, sp)
    return res


if __name__ == '__main__':
    main()
