"""The robustness suite (docs/robustness.md): the validation case under the fixed perturbations of
`training/perturb.py`, segmented by installed models through the shipped pipeline (`nnsam segment`, TTA and
the manifest's post-processing) and by the 3-class k-means baseline; Dice, ASD and HD95 against the label.

Run (from the repository root, after `npm run build`):
  /usr/bin/python3 -m training.robustness --dataset ../shared/data/brain-wm --case fsA \
      --model brain-wm-2d@1.2.0 --model brain-wm-2d@2.0.0 --out bench/results/robustness.json
Results are cached per model and variant in the --out file, so a model added later runs alone; the
k-means rows are recomputed only when missing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import nibabel as nib
import numpy as np

from .io_utils import load_case, read_dataset_json
from .kmeans_baseline import brain_mask, kmeans_wm
from .metrics import evaluate
from .perturb import SUITE, SUITE_SEED, perturb

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KMEANS = 'k-means (3 classes)'


def _slug(variant: str) -> str:
    return ''.join(c if c.isalnum() else '_' for c in variant).strip('_')


def model_key(ref: str, models: str | None) -> str:
    """`<id>@<version>` of a model reference (a bare id is the installed current version)."""
    if '@' in ref:
        return ref
    with open(os.path.join(models or os.path.join(REPO, 'models'), ref, 'manifest.json')) as f:
        return f"{ref}@{json.load(f)['version']}"


def segment(cli_args: list[str], image_path: str, out_path: str) -> float:
    """Runs `nnsam segment` on one file; returns its wall time in seconds."""
    t = time.time()
    subprocess.run(['node', os.path.join(REPO, 'bin', 'nnsam.js'), 'segment', image_path,
                    '-o', out_path, '--json', *cli_args], check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    return time.time() - t


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--dataset', required=True)
    ap.add_argument('--case', default='fsA', help='the validation case (never trained on)')
    ap.add_argument('--model', action='append', default=[], help='model reference for `nnsam segment --model`')
    ap.add_argument('--models', default=None, help='models folder (default: the package models/)')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--variants', default=None, help='semicolon-separated subset of the suite (default: all)')
    ap.add_argument('--out', required=True, help='results JSON (read first: finished rows are kept)')
    ap.add_argument('--card', default=None, metavar='MODEL_DIR',
                    help='then write the robustness section of MODEL_DIR/README.md (the model against the release '
                         'before it and k-means) and update the card\'s size and SHA-256 in MODEL_DIR/manifest.json')
    a = ap.parse_args(argv)
    label_name = {v: k for k, v in read_dataset_json(a.dataset)['labels'].items()}
    assert label_name.get(1) == 'white_matter', 'the suite scores label 1 (white matter)'
    res = {'case': a.case, 'suite_seed': SUITE_SEED, 'suite': {k: [list(s) for s in v] for k, v in SUITE.items()},
           'results': {}}
    if os.path.exists(a.out):
        with open(a.out) as f:
            old = json.load(f)
        if old.get('suite') == res['suite'] and old.get('case') == a.case:
            res['results'] = old['results']
    img, lab, sp, aff = load_case(a.dataset, a.case)
    truth = lab == 1
    hdr = nib.load(os.path.join(a.dataset, 'imagesTr', f'{a.case}_0000.nii.gz')).header.copy()
    hdr.set_data_dtype(np.float32)
    variants = a.variants.split(';') if a.variants else list(SUITE)
    with tempfile.TemporaryDirectory() as tmp:
        for variant in variants:
            image = None
            for ref in [KMEANS, *a.model]:
                name = ref if ref == KMEANS else model_key(ref, a.models)
                row = res['results'].setdefault(name, {})
                if variant in row:
                    continue
                if image is None:
                    image = perturb(img, variant)
                    path = os.path.join(tmp, _slug(variant) + '.nii.gz')
                    nib.save(nib.Nifti1Image(image, aff, hdr), path)
                if name == KMEANS:
                    t = time.time()
                    pred = kmeans_wm(image, brain_mask(image))
                    row[variant] = {**evaluate(pred, truth, sp), 'time_s': round(time.time() - t, 1)}
                else:
                    out = os.path.join(tmp, 'labels.nii.gz')
                    extra = ['--model', ref, '--threads', str(a.threads)] + (['--models', a.models] if a.models else [])
                    secs = segment(extra, path, out)
                    pred = np.asarray(nib.load(out).dataobj) == 1
                    row[variant] = {**evaluate(pred, truth, sp), 'time_s': round(secs, 1)}
                print(f'{variant:45s} {name:22s} dice {row[variant]["dice"]:.4f} asd {row[variant]["asd_mm"]:.3f} '
                      f'hd95 {row[variant]["hd95_mm"]:.3f}', flush=True)
                with open(a.out, 'w') as f:
                    json.dump(res, f, indent=2)
                    f.write('\n')
    if a.card:
        write_card_section(res, a.card, os.path.relpath(a.out, REPO))


def verdict(res: dict, model: str, older: list[str]) -> list[str]:
    """The issue's three bars on the perturbed variants, as measured, against every older release."""
    rows = res['results']
    mine = rows[model]
    perturbed = [v for v in res['suite'] if v != 'clean']
    worst = min(perturbed, key=lambda v: mine[v]['dice'])
    drop = mine['clean']['dice'] - mine[worst]['dice']
    out = [f"- Loses at most 0.02 Dice from its clean score ({mine['clean']['dice']:.4f}) on every variant: "
           f"**{'met' if drop <= 0.02 else 'NOT met'}** (largest loss {drop:.4f}, {worst})."]
    for other, label in [*((o, f'release {o}') for o in older), (KMEANS, 'k-means')]:
        if other not in rows:
            continue
        lost = [v for v in perturbed if mine[v]['dice'] <= rows[other][v]['dice']]
        out.append(f"- Beats {label} on Dice on every perturbed variant: **{'met' if not lost else 'NOT met'}**"
                   + (f" (not on: {', '.join(lost)})." if lost else '.'))
    return out


def write_card_section(res: dict, model_dir: str, source: str) -> None:
    """Replaces the card's robustness section (between the markers model_card.py writes)."""
    from .export import write_manifest
    from .model_card import ROBUSTNESS_BEGIN, ROBUSTNESS_END

    with open(os.path.join(model_dir, 'manifest.json')) as f:
        manifest = json.load(f)
    model = f"{manifest['id']}@{manifest['version']}"
    def version(k: str) -> list[int]:
        return [int(x) for x in k.split('@')[1].split('.')]

    older = sorted((k for k in res['results'] if k.startswith(manifest['id'] + '@') and version(k) < version(model)),
                   key=version)
    names = [model, *older, KMEANS]
    body = '\n'.join([
        ROBUSTNESS_BEGIN,
        f"## Robustness (docs/robustness.md; results: `{source}`)",
        f"The validation case {res['case']} under the suite's fixed perturbations (`training/perturb.py`, chosen "
        'before this model was trained), each model through the shipped pipeline (`nnsam segment`, TTA, '
        'post-processing), Dice (change from that predictor\'s clean Dice) / ASD / HD95 in mm:',
        '',
        table(res, names),
        '',
        *verdict(res, model, older),
        ROBUSTNESS_END,
    ])
    card = os.path.join(model_dir, 'README.md')
    with open(card) as f:
        text = f.read()
    i, j = text.find(ROBUSTNESS_BEGIN), text.find(ROBUSTNESS_END)
    if i < 0 or j < 0:
        raise SystemExit(f'{card} has no robustness section markers (model_card.py writes them)')
    with open(card, 'w') as f:
        f.write(text[:i] + body + text[j + len(ROBUSTNESS_END):])
    write_manifest(model_dir, manifest)


def table(res: dict, names: list[str]) -> str:
    """A markdown table: one row per variant, Dice / ASD / HD95 per predictor, with each Dice's change from
    that predictor's clean Dice."""
    head = '| variant | ' + ' | '.join(f'{n} Dice (change) | ASD | HD95' for n in names) + ' |'
    sep = '| --- | ' + ' | '.join('---: | ---: | ---:' for _ in names) + ' |'
    rows = [head, sep]
    for variant in res['suite']:
        cells = []
        for n in names:
            m = res['results'].get(n, {}).get(variant)
            clean = res['results'].get(n, {}).get('clean')
            if m is None:
                cells.append('n/a | n/a | n/a')
                continue
            delta = '' if variant == 'clean' or clean is None else f' ({m["dice"] - clean["dice"]:+.4f})'
            cells.append(f'{m["dice"]:.4f}{delta} | {m["asd_mm"]:.3f} | {m["hd95_mm"]:.3f}')
        rows.append(f'| {variant} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(rows)


if __name__ == '__main__':
    main()
