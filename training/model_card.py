"""Model cards (models/<id>/README.md), generated from the run, the metrics and the parity checks."""

from __future__ import annotations

import json
import os

from .error_analysis import describe

NOTES = os.path.join(os.path.dirname(__file__), 'cards')
# The card's robustness section, written by `training.robustness --card` after the release.
ROBUSTNESS_BEGIN, ROBUSTNESS_END = '<!-- robustness: training/robustness.py -->', '<!-- /robustness -->'

LOSS = """\
Per foreground class k, with the ground-truth signed distance `d` (voxels, positive inside, +-0.5 next
to the boundary, from the augmented label patch) and the level-set output `phi` (a 1x1 conv + tanh):

```
L      = L_DS(DC+CE) + w_ls * L_ls
L_DS   = sum_i a_i * (CE(y_i, t_i) + 1 - softDice(y_i, t_i)),  a_i ~ 1/2^i, lowest resolution 0, sum 1
L_ls   = mean( (phi - tanh(d / tau))^2 )
       + w_curv * mean_{|d| <= b} | clamp(kappa(phi)) - clamp(kappa(tanh(d / tau))) |
kappa(u) = div( grad u / |grad u| )   (central differences; clamp to [-1, 1] per voxel)
tau = 4 voxels, b = 3 voxels, w_ls = 1.0, w_curv = 0.1
```

Why these weights:
- `tau = 4`: white-matter blades are 2-6 voxels thick at 1 mm, and tanh saturates by ~2*tau, so the
  regression concentrates on the boundary layer instead of far-away distances the patch cannot see.
- `w_ls = 1`: the tanh-SDF error is bounded (per voxel at most 4) and sits around 0.05-0.15 after the
  first few hundred steps, against 0.2-1.0 for DC+CE; weight 1 keeps it a secondary term of the same
  order, never the dominant one.
- `w_curv = 0.1`: curvature of a voxelised mask is staircase noise at the voxel scale (its L1 term sits
  around 0.3); 0.1 keeps it a shape regulariser (~0.03) rather than a target. Curvature of tanh(d/tau)
  equals that of d (div of the unit normal is invariant to monotone rescaling), so one formula serves.
- Whether the term helps is answered by the ablation below (same seed, data, sampler and budget)."""


def _fmt(m: dict | None) -> str:
    if not m:
        return 'n/a | n/a | n/a'
    return f"{m['dice']:.4f} | {m['asd_mm']:.3f} | {m['hd95_mm']:.3f}"


def _history_table(history: list[dict]) -> str:
    rows = [h for h in history if 'val_pseudo_dice' in h]
    lines = ['| iteration | train loss | DC+CE | tanh-SDF MSE | curvature L1 | val loss | val pseudo-Dice |',
             '|---:|---:|---:|---:|---:|---:|---:|']
    for h in rows:
        lines.append(f"| {h['it']} | {h['loss']:.4f} | {h['dc_ce']:.4f} | {h.get('ls_sdf', float('nan')):.4f} | "
                     f"{h.get('ls_curv', float('nan')):.4f} | {h['val_loss']:.4f} | {h['val_pseudo_dice']:.4f} |")
    return '\n'.join(lines)


def _errors(m: dict) -> str:
    ec = m.get('error_components')
    if not ec:
        return ''
    lines = ['| predictor | kind | voxels | where (from the brain centre) | mean intensity |', '|---|---|---:|---|---:|']
    for who, e in ec.items():
        for kind in ('fn', 'fp'):
            for r in e[kind]:
                lines.append(f"| {who} | {kind.upper()} | {r['voxels']} | {describe(r['offset_ras_mm'])} | "
                             f"{r['mean_intensity']} |")
    tot = '; '.join(f"{who}: {e['fp_voxels']} FP / {e['fn_voxels']} FN voxels" for who, e in ec.items())
    return ('### Where the errors are (largest connected components)\n' + tot + '\n\n' + '\n'.join(lines) + '\n')


def _notes(model_id: str) -> str:
    p = os.path.join(NOTES, model_id + '.md')
    if not os.path.exists(p):
        return ''
    with open(p) as f:
        return f.read()


CASES = {
    'fsA': 'FreeSurfer `norm.mgz` + aseg WM labels (2, 41, 7, 46); GitHub `niivue/niivue` demo images, '
           'repository BSD-2-Clause, origin of the scan not stated',
    'fsB': 'FreeSurfer `brainmask.mgz` + `wm.mgz` >= 5 excluding 250; `niivue/niivue`, BSD-2-Clause',
    'mni152': 'ICBM152 2009a symmetric T1 + WM probability >= 0.5; via GitHub `nilearn/nilearn`',
}


def _data_rows(val_case: str) -> str:
    rows = [f"| {c} | {'**validation only** (never trained on; plans computed without it)' if c == val_case else 'training'} "
            f"| {desc} |" for c, desc in CASES.items()]
    return '\n'.join(rows)


def _pp_text(m: dict) -> str:
    e = m.get('postprocessing_decision')
    if not e:
        return ''
    on = e['mean_dice_keep_largest'] > e['mean_dice_raw']
    return (f"Post-processing, decided by nnU-Net's rule on the training cases only ({', '.join(e['cases'])}; never "
            f"on {m['validation_case']}): keeping the largest foreground component (full connectivity) moves their mean "
            f"Dice from {e['mean_dice_raw']:.4f} to {e['mean_dice_keep_largest']:.4f}, so it is "
            f"**{'enabled' if on else 'disabled'}** in `manifest.json` (`inference.postprocessing`); the engine "
            f"applies it, and the ablation row uses the same post-processing.")


def _int8_text(model: dict, i8: dict | None) -> str:
    if not i8:
        return 'not measured, so not shipped.'
    change = (i8['dice'] - model['dice']) * 100
    how = ('each convolution kernel is stored as int8 with one float32 scale per output channel (symmetric, '
           'zero point 0) and restored by a `DequantizeLinear` node when the session runs; norms and biases stay '
           'float32, and compute and I/O are float32, so no int8 kernels are needed. Activations are not '
           'quantised (a calibrated int8 graph would need int8 convolution kernels the edge runtime lacks).')
    verdict = ('Shipped: within the 0.5-point bar.' if i8.get('shipped') else
               'NOT shipped: it loses more than the 0.5-point bar.')
    return f'{how} Its Dice change is {change:+.3f} points. {verdict}'


def trained_card(info: dict) -> str:
    p, m = info['plans'], info['metrics']
    c = p['configurations']['2d']
    a = c['architecture']['arch_kwargs']
    start = info['history'][0] if info['history'] else {}
    args = start.get('args', {})
    model, km, abl, f16 = m['model_fp32'], m['kmeans_3class'], m.get('ablation_no_levelset_loss'), m.get('model_fp16')
    i8 = m.get('model_int8')
    dice_ok = model['dice'] >= 0.90
    beats = model['dice'] > km['dice'] and model['asd_mm'] < km['asd_mm']
    verdict = (f"- Dice >= 0.90 on the validation case: **{'met' if dice_ok else 'NOT met'}** "
               f"({model['dice']:.4f}).\n"
               f"- Beats the 3-class k-means on Dice and ASD: **{'yes' if beats else 'NO'}** "
               f"(Dice {model['dice']:.4f} vs {km['dice']:.4f}; ASD {model['asd_mm']:.3f} vs {km['asd_mm']:.3f} mm).")
    if abl:
        helps = abl['dice'] < model['dice'] and abl['asd_mm'] > model['asd_mm']
        hurts = abl['dice'] > model['dice'] and abl['asd_mm'] < model['asd_mm']
        same = abs(abl['dice'] - model['dice']) < 5e-4 and abs(abl['asd_mm'] - model['asd_mm']) < 5e-3
        abl_txt = ('No measurable difference.' if same else
                   'The level-set loss helped on both Dice and ASD here.' if helps else
                   'The level-set loss did not help here: the run without it is better on both Dice and ASD.'
                   if hurts else 'Mixed result: the level-set loss helped one metric and not the other.')
        abl_txt += (' One validation case and one seed: differences of this size are within what a different '
                    'seed could change, so this is not evidence either way beyond this setting.')
    else:
        abl_txt = 'Not run.'
    sizes = '\n'.join(f'| `{k}` | {v / 1e6:.2f} MB |' for k, v in info['sizes'].items())
    par = json.dumps(info['parity'])
    dr = args.get('domain_rand') or 0
    cmd = ('/usr/bin/python3 -m training.retrain --dataset ../shared/data/brain-wm '
           f"--model-id {info['model_id']} --val-case {m['validation_case']} --iters {m['iterations']} "
           f"--seed {args.get('seed', 0)}" + (f' --domain-rand {dr} --no-ablation' if dr else '')
           + f" --version {info.get('version') or '0.0.0'}")
    retrain_what = ('trains this model with domain randomisation (one thread, plus a child process drawing the '
                    f"randomised volumes; {m['train_time_s'] / 60:.0f} minutes on this 2-core machine)" if dr else
                    'trains this model and the `--w-ls 0` ablation side by side (one thread each, '
                    f"~{m['train_time_s'] / 60:.0f} minutes on this 2-core machine)")
    dr_text = (f'\n\n**Domain randomisation** (`--domain-rand {dr}`, docs/robustness.md): a child process re-draws whole '
               'training volumes with random tissue contrast (from the WM label and a 2-class k-means of the other '
               'brain voxels), gamma, a smooth bias field, thick slices along a random axis, blur and Rician noise, '
               'then pre-processes them exactly as inference does; the trainer keeps '
               f'{dr} such volumes in its pool beside the clean cases. '
               f"Training budget: {m['train_time_s'] / 60:.1f} minutes of wall time for {m['iterations']} iterations "
               'on the shared 2-core machine (the issue allows about an hour).' if dr else '')
    return f"""# {info['model_id']}: 2D nnU-Net + level-set head, brain white matter (T1 MR)

**Research use only. Not for clinical use.** Not a medical device; trained on 2 volumes in ~{m['train_time_s'] / 60:.0f}
CPU-minutes; no claim of generalisation beyond skull-stripped, 1 mm T1 volumes like the training data.

## Intended use
Integration tests, benchmarks and demonstrations of the nnsam-edge pipeline (engine, Worker, inference
nodes) on skull-stripped, 1 mm isotropic T1 MR volumes; research on the level-set head. Not for
diagnosis, treatment planning or any decision about a person.

## What it is
A 2D `PlainConvUNet` in nnU-Net v2 conventions (Conv -> InstanceNorm -> LeakyReLU(0.01), strided-conv
encoder, transposed-conv decoder, deep supervision while training) with a second 1x1 output: a
tanh-scaled signed distance (level set) of the white matter. **No SAM branch** (pretrained MobileSAM
weights cannot be obtained here); the graph is the nnSAM decoder minus the TinyViT input.

- Input `input`: `[batch, 1, {c['patch_size'][0]}, {c['patch_size'][1]}]` float32, a z-score-normalised patch (inside the
  non-zero mask; `use_mask_for_norm = {c['use_mask_for_norm']}`), slices taken along axis 0 after `transpose_forward`.
- Outputs `logits` `[batch, 2, ...]` (background, white matter) and `levelset` `[batch, 1, ...]`
  (`tanh(d / 4)`, positive inside). Inference: sliding window (step 0.5, Gaussian sigma = patch/8),
  mirroring over axes {info['checkpoint'].get('inference_allowed_mirroring_axes')}, fold 0 only, argmax. All fields are in `manifest.json`.
- Topology (from the planner): features {a['features_per_stage']}, strides {[s[0] for s in a['strides']]},
  2 convs per stage, {info['n_params'] / 1e6:.2f} M parameters.

## Data
| case | role | source / licence |
|---|---|---|
{_data_rows(m['validation_case'])}

Labels come from automatic tools with slightly different definitions (fsB excludes filled deep grey
matter, fsA includes cerebellar WM, mni152 is a smooth average), which caps any model's agreement.

Notices that travel with these weights:
- ICBM152 2009a (McGill), the notice distributed with the template (http://nist.mni.mcgill.ca/):
  "Copyright (C) 1993-2009 Louis Collins, McConnell Brain Imaging Centre, Montreal Neurological
  Institute, McGill University. Permission to use, copy, modify, and distribute this software and its
  documentation for any purpose and without fee is hereby granted, provided that the above copyright
  notice appear in all copies. The authors and McGill University make no representations about the
  suitability of this software for any purpose. It is provided "as is" without express or implied
  warranty. The authors are not responsible for any data loss, equipment damage, property loss, or
  injury to subjects or patients resulting from the use or misuse of this software package."
- niivue demo images: BSD-2-Clause (niivue repository).
- The model weights and code: Apache-2.0 (nnsam-edge).

## Planning (training/planner.py)
Fingerprint of the two training cases: median spacing {[round(s, 4) for s in p['original_median_spacing_after_transp']]} mm,
median cropped shape {p['original_median_shape_after_transp']}, foreground intensity properties in
`manifest.json`. nnU-Net would take the median in-plane shape ({' x '.join(str(int(-(-v // 32) * 32)) for v in c['median_image_size_in_voxels'])}, rounded up) as the 2D
patch and 32 base features; this CPU-only machine gets a **budget** instead: at most 128 x 128 pixels
per patch, 16 base features (cap 256), batch 8, so one SGD step costs ~0.7 s on one core. Spacing
stays at the native 1 mm because the k-means baseline already reaches sub-voxel ASD: a coarser
grid could not beat it on ASD. Z-score normalisation inside the non-zero mask (cropping removed more
than 25 % of each image), transpose identity (isotropic).

## Training (training/train.py)
SGD (Nesterov, momentum 0.99, weight decay 3e-5), lr 0.01 with poly decay (0.9), {m['iterations']} iterations of
batch {c['batch_size']} (nnU-Net trains 250,000), gradient clip 12, seed {args.get('seed', 0)}, one CPU thread,
{m['train_time_s'] / 60:.1f} minutes. Sampling: random case and slice, one third of each batch forced to contain white matter.
Augmentation (nnU-Net's kinds, simplified): rotation +-180 deg (p 0.2), scaling 0.7-1.4 (p 0.2), Gaussian
noise (p 0.1), blur (p 0.2), brightness (p 0.15), contrast (p 0.15), low resolution (p 0.25), gamma
(p 0.3, inverted p 0.1), mirroring on both axes.{dr_text}

### Loss
{LOSS}

### Log (validation on fixed, un-augmented patches of the held-out case)
{_history_table(info['history'])}

## Results on the held-out case {m['validation_case']} (full volume, nnU-Net inference, 1 mm)
Dice, ASD and HD95 as docs/metrics.md defines them (surface = mask minus its erosion with full
connectivity; distances pooled both ways, in mm).

| model | Dice | ASD (mm) | HD95 (mm) |
|---|---:|---:|---:|
| **{info['model_id']}** (fp32, `model.onnx`, shipped post-processing) | {_fmt(model)} |
| {info['model_id']} without post-processing (argmax only) | {_fmt(m.get('model_fp32_raw'))} |
| {info['model_id']} fp16 weights (`model.fp16.onnx`) | {_fmt(f16)} |
| {info['model_id']} int8 weights (`model.int8.onnx`{'' if (i8 or {}).get('shipped') else ', not shipped'}) | {_fmt(i8)} |
| ablation: same run without the level-set loss (`--w-ls 0`) | {_fmt(abl)} |
| 3-class k-means of the brain voxels, WM = brightest cluster | {_fmt(km)} |

{verdict}

{_pp_text(m)}

Ablation: {abl_txt}

{_errors(m)}
{_notes(info['model_id'])}

fp16: the fp16 variant stores the weights as float16 and casts them to float32 when the session
loads (fp32 compute and I/O); its Dice change is {(f16['dice'] - model['dice']) * 100 if f16 else float('nan'):+.3f} points.

int8: {_int8_text(model, i8)}

## Files and checks
| file | size |
|---|---:|
{sizes}

ONNX (opset 17) vs PyTorch, max abs difference with onnxruntime-node 1.30 (random and real patches;
each file compared with the weights it stores): `{par}`. `parity/` holds a real-patch input and the
PyTorch outputs so `npm run test:training` re-checks the files without the checkpoint. SHA-256 of
every file: `manifest.json`.

## Retrain (one command, from the repository root)
```
{cmd}
```
It {retrain_what}, then runs `training.release` (ONNX, fp16, int8, parity, metrics, this card, manifest).
Runs land in `training/runs/` (git-ignored).

{ROBUSTNESS_BEGIN}
## Robustness
Not measured yet: `training.robustness --card` writes this section.
{ROBUSTNESS_END}
"""


def stand_in_card(info: dict) -> str:
    c = info['plans']['configurations']['2d']
    sizes = '\n'.join(f'| `{k}` | {v / 1e6:.2f} MB |' for k, v in info['sizes'].items())
    return f"""# {info['model_id']}: nnSAM architecture stand-in (RANDOM weights)

**This model segments nothing. Its weights are random.** It exists so that the inference engine,
the Worker and the benchmarks can run the full nnSAM graph (TinyViT at 1024 x 1024 plus the 2D
nnU-Net) end to end. **Not for clinical use, not for any use that reads its outputs.**

## What it is
- nnSAM as docs/method.md describes it: the normalised patch is repeated to 3 channels, resized to
  1024 x 1024 (bilinear, align_corners), encoded by MobileSAM's TinyViT `vit_t` (frozen; here
  randomly initialised, seed 0), the 256 x 64 x 64 embedding resized to encoder skip 3 and
  concatenated there; decoder with a segmentation head and a level-set head.
- Same plans as `brain-wm-2d` (patch {c['patch_size']}, 1 mm, z-score in the non-zero mask), so the two are
  interchangeable in the engine; only the SAM branch differs.
- Input `input` `[batch, 1, {c['patch_size'][0]}, {c['patch_size'][1]}]`; outputs `logits` `[batch, 2, ...]` and `levelset` `[batch, 1, ...]`.
- Weights are stored as **float16** and cast to float32 at load: in float32 the graph would be
  ~{info['n_params_onnx'] * 4 / 1e6:.0f} MB ({info['n_params_onnx'] / 1e6:.2f} M weights in the graph; TinyViT alone is 5.74 M = 23 MB), over the 25 MB budget.
  The PyTorch reference was rounded to fp16 before export, so parity holds.

| file | size |
|---|---:|
{sizes}

ONNX vs PyTorch max abs difference (onnxruntime-node 1.30, one thread): `{json.dumps(info['parity'])}`,
checked against a tolerance of {info['tol']:g}. The TinyViT at 1024 x 1024 alone differs by ~2e-5 between
PyTorch and onnxruntime in float32; with trained weights the U-Net's amplification of that will differ,
so re-check with `training.release` (it refuses to write a model over the tolerance).

## Building the real one
With MobileSAM's `mobile_sam.pt` (not obtainable on these machines):
```
# the architecture with the real encoder (U-Net untrained):
/usr/bin/python3 -m training.build_nnsam_random --plans-from training/runs/brain-wm-2d \\
    --sam-checkpoint /path/to/mobile_sam.pt --out models/nnsam-tinyvit
# a trained nnSAM (the encoder stays frozen, in eval mode, never re-initialised):
OMP_NUM_THREADS=2 /usr/bin/python3 -m training.train --dataset ../shared/data/brain-wm --model-id nnsam-wm \\
    --sam --sam-checkpoint /path/to/mobile_sam.pt --val-case fsB
/usr/bin/python3 -m training.release --run training/runs/nnsam-wm --dataset ../shared/data/brain-wm --out models/nnsam-wm
```
The `image_encoder.*` keys of `mobile_sam.pt` load with `strict=True`
(`training/tests/test_tinyvit_strict.py` checks this on a state dict in the official layout).
A TinyViT forward at 1024 x 1024 takes ~5 s on one CPU core here: this model belongs on inference
nodes, not in a Worker.

## Licence
Code and this stand-in: Apache-2.0. MobileSAM (Apache-2.0) describes the architecture; no MobileSAM
weights are included.
"""


def write_card(out: str, info: dict) -> None:
    """Write README.md for a trained model or a stand-in."""
    text = stand_in_card(info) if info['stand_in'] or not info['metrics'] else trained_card(info)
    with open(os.path.join(out, 'README.md'), 'w') as f:
        f.write(text)
