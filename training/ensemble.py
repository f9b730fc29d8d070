"""Ship an ensemble of released models as one release whose folds are the members (docs/model-versions.md,
"Ensembles"). The pipeline averages the folds' logits, as nnU-Net averages its cross-validation folds, so the
members must share plans, dataset and parity input; each member's ONNX files (fp32, fp16, int8) and PyTorch
parity goldens are copied unchanged, fold k's under `model.fold<k>.*` and `parity/fold<k>/` (fold 0 keeps the
plain names). No weights are trained or re-exported, so each fold's parity is its member's.

Run: /usr/bin/python3 -m training.ensemble --member models/brain-wm-2d/releases/1.2.0 \
        --member models/brain-wm-2d/releases/2.0.0 --version 2.1.0 --out models/brain-wm-2d/releases/2.1.0
then the robustness suite with --card on the new folder writes the card's robustness section.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil

import numpy as np

from .export import write_manifest
from .model_card import ROBUSTNESS_BEGIN, ROBUSTNESS_END

SHARED = ('plans.json', 'dataset.json', 'parity/input.npy')
VARIANTS = ('.onnx', '.fp16.onnx', '.int8.onnx')
GOLDENS = ('logits', 'levelset')


def _read(path: str) -> bytes:
    with open(path, 'rb') as f:
        return f.read()


def fold_name(k: int, suffix: str) -> str:
    """`model<suffix>` for fold 0, `model.fold<k><suffix>` after it."""
    return f'model{suffix}' if k == 0 else f'model.fold{k}{suffix}'


def golden_name(k: int, output: str) -> str:
    return f'parity/{output}.npy' if k == 0 else f'parity/fold{k}/{output}.npy'


def build(members: list[str], version: str, out: str) -> dict:
    manifests = []
    for m in members:
        with open(os.path.join(m, 'manifest.json')) as f:
            manifests.append(json.load(f))
    ids = {m['id'] for m in manifests}
    if len(ids) != 1:
        raise SystemExit(f'members of different models: {sorted(ids)}')
    for rel in SHARED:
        if len({_read(os.path.join(m, rel)) for m in members}) != 1:
            raise SystemExit(f'members differ in {rel}: an ensemble needs one pre-processing and one parity input')
    for m, man in zip(members, manifests):
        if man['inference']['folds'] != [0]:
            raise SystemExit(f'{m} is itself an ensemble')
    os.makedirs(os.path.join(out, 'parity'), exist_ok=True)
    newest = manifests[-1]
    files: dict = {}
    parity: dict = {}
    for rel in SHARED:
        shutil.copyfile(os.path.join(members[0], rel), os.path.join(out, rel))
        files[rel] = dict(newest['files'][rel])
    files['parity/input.npy']['role'] = 'parity golden input (every fold)'
    mean = {o: None for o in GOLDENS}
    for k, (m, man) in enumerate(zip(members, manifests)):
        ref = f"{man['id']}@{man['version']}"
        for suffix in VARIANTS:
            src = f'model{suffix}'
            if src not in man['files']:
                continue
            dst = fold_name(k, suffix)
            shutil.copyfile(os.path.join(m, src), os.path.join(out, dst))
            files[dst] = {**man['files'][src], 'fold': k, 'member': ref}
            parity[dst] = man['parity_onnxruntime_node_max_abs_diff'][src]
        for o in GOLDENS:
            dst = golden_name(k, o)
            os.makedirs(os.path.dirname(os.path.join(out, dst)), exist_ok=True)
            shutil.copyfile(os.path.join(m, f'parity/{o}.npy'), os.path.join(out, dst))
            files[dst] = {'role': f'parity golden of fold {k} ({ref}, PyTorch)'}
            g = np.load(os.path.join(m, f'parity/{o}.npy')).astype(np.float64)
            mean[o] = g if mean[o] is None else mean[o] + g
    for o in GOLDENS:
        rel = f'parity/mean_{o}.npy'
        np.save(os.path.join(out, rel), (mean[o] / len(members)).astype(np.float32))
        files[rel] = {'role': f'mean of the folds\' PyTorch {o} goldens: what the ensemble averages to'}
    files['README.md'] = {'role': 'model card'}

    manifest = copy.deepcopy(newest)
    manifest['version'] = version
    manifest['inference']['folds'] = list(range(len(members)))
    manifest['files'] = files
    manifest['variants'] = {k: v['precision'] for k, v in files.items() if k.endswith('.onnx')}
    manifest['parity_onnxruntime_node_max_abs_diff'] = parity
    # The edge runs one ONNX file in a 128 MB isolate; an ensemble doubles its compute and memory.
    manifest.pop('edge', None)
    manifest.pop('parity_web_graph_max_abs_diff', None)  # no web graph either: it is the edge's file
    members_ref = [f"{man['id']}@{man['version']}" for man in manifests]
    manifest['provenance'] = {
        'ensemble_of': members_ref,
        'code': 'training/ensemble.py',
        'command': ('/usr/bin/python3 -m training.ensemble ' + ' '.join(f'--member {m}' for m in members)
                    + f' --version {version} --out {out}'),
        'members': {ref: man['provenance'] for ref, man in zip(members_ref, manifests)},
    }
    manifest['metrics'] = {'members': {ref: man['metrics'] for ref, man in zip(members_ref, manifests)}}
    with open(os.path.join(out, 'README.md'), 'w') as f:
        f.write(card(manifest, manifests))
    write_manifest(out, manifest)
    return manifest


def card(manifest: dict, members: list[dict]) -> str:
    refs = [f"{m['id']}@{m['version']}" for m in members]
    fp32 = [m['metrics']['model_fp32'] for m in members]
    train_s = [m['metrics'].get('train_time_s') for m in members]
    rows = '\n'.join(
        f"| {k} | `{ref}` | `{fold_name(k, '.onnx')}` | {f['dice']:.4f} | {f['asd_mm']:.3f} | {f['hd95_mm']:.3f} | "
        f"{f'{t / 60:.0f}' if t is not None else 'n/a'} |"
        for k, (ref, f, t) in enumerate(zip(refs, fp32, train_s)))
    return f"""# {manifest['id']} {manifest['version']}: an ensemble of {', '.join(refs)}

**Research use only. Not for clinical use.** Not a medical device; its members were trained on 2 volumes
on a CPU; no claim of generalisation beyond skull-stripped T1 volumes like the training data.

## What it is
The members' own networks, unchanged, run as the folds of one release: every tile is predicted by each
member under every mirroring, and the logits are averaged before the argmax, as nnU-Net averages the
models of its cross-validation folds (docs/model-versions.md, "Ensembles"). Members, their cards and
training are in their own release folders; their pre-processing (`plans.json`), labels and parity input
are byte-identical, which `training/ensemble.py` checks.

**Chosen on the validation case.** This pairing was picked after the robustness suite had been run
on both members, on fsA, the same case as the figures below; no weights were fitted to it, but the
choice was, so read its margins over 1.2.0 (some of them 0.001 Dice or less) as optimistic.

| fold | member | file | member's fsA Dice | ASD (mm) | HD95 (mm) | training (CPU min) |
| --- | --- | --- | ---: | ---: | ---: | ---: |
{rows}

- **Training budget:** none for the ensemble; the members' training took the minutes above on one core
  (`train_time_s` in each member's manifest). Made by `{manifest['provenance']['command']}`.
- **Cost:** two networks per tile, so twice the model time of one member, and one onnxruntime session
  per fold (bench/results/ensemble.md gives the measured time and peak memory).
- **Weights:** fp32, fp16 and int8 files for each fold (the members' own variants, `--weights`).
- **Parity:** each fold's ONNX against its member's PyTorch goldens (`parity/` for fold 0,
  `parity/fold1/` for fold 1; tolerance {manifest['parity_tolerance']}), and `parity/mean_*.npy`, the mean of
  the two, which the fold average must reproduce (engine/models/ensemble.test.ts).
- **Edge:** not offered: the edge runs one file in a 128 MB isolate; requests for this release run on
  inference nodes.
- **Refinement:** not offered; the level-set refinement was measured on both members and did not help
  (bench/results/refine.md, bench/results/refine-2.0.0.md), and `--refine` was removed.

{ROBUSTNESS_BEGIN}
{ROBUSTNESS_END}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--member', action='append', required=True, help='a release folder; fold order')
    ap.add_argument('--version', required=True)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    if len(a.member) < 2:
        raise SystemExit('an ensemble needs at least two members')
    m = build(a.member, a.version, a.out)
    print(json.dumps({'version': m['version'], 'folds': m['inference']['folds'], 'files': sorted(m['files'])}))


if __name__ == '__main__':
    main()
