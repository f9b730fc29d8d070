"""Turn a run folder into a shipped model: ONNX (+ fp16, + int8 when it keeps Dice within 0.5 points),
parity goldens, model card, manifest.

Run: /usr/bin/python3 -m training.release --run training/runs/brain-wm-2d \
        --ablation-run training/runs/brain-wm-2d-no-ls --dataset ../shared/data/brain-wm --out models/brain-wm-2d
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time

import numpy as np
import torch

from .export import (OUT_LEVELSET, OUT_LOGITS, InferenceGraph, manifest_dict, round_to_fp16, round_to_int8, unet_cfg,
                     write_manifest)
from .importer import build_from_checkpoint, import_folder, read_folder
from .io_utils import load_case
from .error_analysis import components
from .kmeans_baseline import brain_mask, kmeans_wm
from .metrics import evaluate
from .model_card import write_card
from .predict import postprocess, predict_volume
from .preprocessing import preprocess_case
from .web_graph import MAX_EDGE_BYTES, build_release, card_row

# The bar for shipping the int8 variant: its validation Dice within 0.5 points of fp32.
INT8_MAX_DICE_DROP = 0.005
# Where the shared training cases come from (../shared/data/README.md); their notices travel with the weights.
DATA_SOURCES = {
    'fsA': 'FreeSurfer norm.mgz + aseg WM labels; GitHub niivue/niivue demos (BSD-2-Clause)',
    'fsB': 'FreeSurfer brainmask.mgz + wm.mgz; GitHub niivue/niivue demos (BSD-2-Clause)',
    'mni152': 'ICBM152 2009a symmetric T1 + WM probability >= 0.5; via GitHub nilearn/nilearn (McGill notice)',
}


def _read_json(path: str):
    with open(path) as f:
        return json.load(f)


def real_patches(plans: dict, dataset: str, case: str, n: int = 2) -> np.ndarray:
    """n centred, preprocessed patches from evenly spaced slices of a case (for parity on real data)."""
    img, _, sp, _ = load_case(dataset, case)
    data, _, _ = preprocess_case(img, None, sp, plans)
    ps = plans['configurations']['2d']['patch_size']
    out = []
    for z in np.linspace(0, data.shape[1] - 1, n + 2)[1:-1].astype(int):
        sl = data[:, z]
        pad = [(0, 0)] + [(max(p - s, 0) // 2, max(p - s, 0) - max(p - s, 0) // 2) for s, p in zip(sl.shape[1:], ps)]
        sl = np.pad(sl, pad)
        y0, x0 = (sl.shape[1] - ps[0]) // 2, (sl.shape[2] - ps[1]) // 2
        out.append(sl[:, y0:y0 + ps[0], x0:x0 + ps[1]])
    return np.stack(out).astype(np.float32)


@torch.no_grad()
def write_goldens(net, x: np.ndarray, out: str) -> dict:
    """PyTorch outputs for x, stored so CI can check the ONNX files without the checkpoint."""
    os.makedirs(os.path.join(out, 'parity'), exist_ok=True)
    cfg = unet_cfg(net)
    ds = cfg.deep_supervision
    cfg.deep_supervision = False
    try:
        lo, ls = InferenceGraph(net.eval())(torch.from_numpy(x))
    finally:
        cfg.deep_supervision = ds
    np.save(os.path.join(out, 'parity', 'input.npy'), x)
    np.save(os.path.join(out, 'parity', OUT_LOGITS + '.npy'), lo.numpy())
    files = {'parity/input.npy': {'role': 'parity golden input'},
             'parity/logits.npy': {'role': 'parity golden (PyTorch, fp32 weights of model.onnx)'}}
    if ls is not None:
        np.save(os.path.join(out, 'parity', OUT_LEVELSET + '.npy'), ls.numpy())
        files['parity/levelset.npy'] = {'role': 'parity golden (PyTorch)'}
    return files


def _onnx_params(path: str) -> int:
    """Number of weights stored in an ONNX file (its initializers)."""
    import onnx

    return int(sum(np.prod(i.dims) for i in onnx.load(path).graph.initializer))


def decide_postprocessing(net, plans: dict, ds: dict, dataset: str, cases: list) -> dict:
    """nnU-Net's rule, on the training cases only (never the validation case): keep the largest
    foreground component if that raises the mean Dice over the cases."""
    pp = {'keep_largest_foreground': True, 'keep_largest_labels': []}
    raw, kept = [], []
    for case in cases:
        img, lab, sp, _ = load_case(dataset, case)
        pred = predict_volume(net, img, sp, plans, len(ds['labels']))
        raw.append(evaluate(pred == 1, lab == 1, sp))
        kept.append(evaluate(postprocess(pred, pp) == 1, lab == 1, sp))
    mean = lambda rs: float(np.mean([r['dice'] for r in rs]))  # noqa: E731
    enabled = mean(kept) > mean(raw)
    return {'postprocessing': pp if enabled else {'keep_largest_foreground': False, 'keep_largest_labels': []},
            'evidence': {'cases': cases, 'mean_dice_raw': mean(raw), 'mean_dice_keep_largest': mean(kept),
                         'per_case': {c: {'raw': r, 'keep_largest': k} for c, r, k in zip(cases, raw, kept)}}}


def archive_previous(out: str, version: str) -> str | None:
    """Keep the release being replaced selectable (`<id>@<version>`): its manifest and every file it lists move
    to `out/releases/<its version>/`, unless that folder exists already. Returns the folder, if any."""
    path = os.path.join(out, 'manifest.json')
    if not os.path.exists(path):
        return None
    old = _read_json(path)
    prev = old.get('version')
    if not prev or prev == version:
        return None
    dest = os.path.join(out, 'releases', prev)
    if os.path.exists(dest):
        return dest
    for name in [*old['files'], 'manifest.json']:
        os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
        shutil.copyfile(os.path.join(out, name), os.path.join(dest, name))
    return dest


def release(run: str, out: str, model_id: str, dataset: str | None = None, val_case: str | None = None,
            ablation_run: str | None = None, stand_in: bool = False, tol: float = 1e-4,
            version: str = '0.0.0', edge: dict | None = None, refine: dict | None = None) -> dict:
    """Export, check, document. Returns the manifest."""
    os.makedirs(out, exist_ok=True)
    archive_previous(out, version)
    plans, ds, ck = read_folder(run, 0)
    val_path = os.path.join(run, 'fold_0', 'validation.json')
    validation = _read_json(val_path) if os.path.exists(val_path) else None
    val_case = val_case or (validation or {}).get('val_case')
    # One real patch is enough for the stand-in (a TinyViT forward costs seconds); two for trained models.
    x_real = real_patches(plans, dataset, val_case, n=1 if stand_in else 2) if dataset and val_case else None
    if x_real is None:
        x_real = np.random.default_rng(1).standard_normal((1, 1, *plans['configurations']['2d']['patch_size']))
        x_real = x_real.astype(np.float32)
    r = import_folder(run, out, (0,), fp16=True, fp16_only=stand_in, real_patches=x_real, tol=tol,
                      int8=not stand_in)
    files = r['files']
    if stand_in:  # the only file: fp16-stored weights under the primary name
        os.replace(os.path.join(out, 'model.fp16.onnx'), os.path.join(out, 'model.onnx'))
        files = {'model.onnx': files['model.fp16.onnx']}
        r['parity'] = {'model.onnx': r['parity']['model.fp16.onnx']}
    net32 = build_from_checkpoint(plans, ds, ck)  # unrounded weights for the goldens of model.onnx
    files.update(write_goldens(net32, x_real, out))
    for name in ('plans.json', 'dataset.json'):
        shutil.copyfile(os.path.join(run, name), os.path.join(out, name))
        files[name] = {'role': 'nnU-Net v2 ' + name}
    metrics = None
    pp = None
    log = os.path.join(run, 'fold_0', 'training_log.jsonl')
    history = []
    if os.path.exists(log):
        with open(log) as f:
            history = [json.loads(line) for line in f]
    if validation and 'model' in validation and not stand_in:
        decision = decide_postprocessing(net32, plans, ds, dataset, history[0]['train_cases'])
        pp = decision['postprocessing']
        metrics = {'validation_case': val_case, 'model_fp32_raw': validation['model'],
                   'kmeans_3class': validation['kmeans'], 'postprocessing_decision': decision['evidence'],
                   'train_time_s': validation['train_time_s'], 'iterations': validation['iters']}
        img, lab, sp, aff = load_case(dataset, val_case)
        raw32 = predict_volume(net32, img, sp, plans, len(ds['labels']))
        metrics['model_fp32_raw_recomputed'] = evaluate(raw32 == 1, lab == 1, sp)  # must equal validation.json
        pred32 = postprocess(raw32, pp) == 1
        metrics['model_fp32'] = evaluate(pred32, lab == 1, sp)
        if ablation_run:
            # Same pipeline for the ablation: its own predictions, the same post-processing.
            a_plans, a_ds, a_ck = read_folder(ablation_run, 0)
            a_net = build_from_checkpoint(a_plans, a_ds, a_ck)
            a_raw = predict_volume(a_net, img, sp, a_plans, len(a_ds['labels']))
            metrics['ablation_no_levelset_loss'] = evaluate(postprocess(a_raw, pp) == 1, lab == 1, sp)
            metrics['ablation_no_levelset_loss_raw'] = _read_json(
                os.path.join(ablation_run, 'fold_0', 'validation.json'))['model']
        metrics['error_components'] = {
            'model': components(pred32, lab == 1, aff, img),
            'kmeans_3class': components(kmeans_wm(img, brain_mask(img)), lab == 1, aff, img),
        }
        net16 = build_from_checkpoint(plans, ds, ck)
        round_to_fp16(net16)
        t = time.time()
        metrics['model_fp16'] = evaluate(
            postprocess(predict_volume(net16, img, sp, plans, len(ds['labels'])), pp) == 1, lab == 1, sp)
        metrics['model_fp16']['predict_time_s'] = round(time.time() - t, 1)
        net8 = build_from_checkpoint(plans, ds, ck)
        round_to_int8(net8)  # exactly what model.int8.onnx computes (parity-checked above)
        metrics['model_int8'] = evaluate(
            postprocess(predict_volume(net8, img, sp, plans, len(ds['labels'])), pp) == 1, lab == 1, sp)
        metrics['model_int8']['shipped'] = metrics['model_fp32']['dice'] - metrics['model_int8']['dice'] <= INT8_MAX_DICE_DROP
    if 'model.int8.onnx' in files and not (metrics or {}).get('model_int8', {}).get('shipped'):
        # Not shipped when it loses more than the bar, or when there is no validation case to measure it on.
        os.remove(os.path.join(out, 'model.int8.onnx'))
        del files['model.int8.onnx']
        del r['parity']['model.int8.onnx']
    sizes = {k: os.path.getsize(os.path.join(out, k)) for k in files if k.endswith('.onnx')}
    for k, v in sizes.items():
        if v > MAX_EDGE_BYTES:
            raise AssertionError(f'{k} is {v} bytes, over the 25 MB edge budget')
    info = {'model_id': model_id, 'version': version, 'plans': plans, 'dataset': ds, 'metrics': metrics,
            'parity': r['parity'],
            'sizes': sizes, 'history': history, 'stand_in': stand_in, 'checkpoint': ck, 'tol': tol,
            'n_params': sum(p.numel() for p in net32.parameters()),
            'n_params_onnx': _onnx_params(os.path.join(out, 'model.onnx'))}
    write_card(out, info)
    files['README.md'] = {'role': 'model card'}
    extra = {
        'name': model_id, 'stand_in': stand_in, 'mirroring_axes': r['mirroring'], 'folds': [0],
        'version': version, 'postprocessing': pp,
        'license': {'model': 'Apache-2.0 (nnsam-edge)',
                    'data_notices': 'see README.md: training-data notices travel with the weights'},
        'provenance': {'code': 'nnsam-edge training/ (PyTorch %s)' % torch.__version__,
                       'trainer': ck.get('trainer_name'), 'init_args': ck.get('init_args'),
                       'train_cases': (history[0].get('train_cases') if history else None),
                       'data_sources': {c: DATA_SOURCES.get(c, 'unknown')
                                        for c in (history[0].get('train_cases', []) if history else [])},
                       'validation_case': val_case,
                       'command': (history[0].get('args') if history else None)},
        'sam_branch': ('random TinyViT vit_t (frozen), architecture stand-in' if stand_in else None),
        'intended_use': ('architecture stand-in for integration tests and benchmarks; outputs are meaningless'
                         if stand_in else 'research and integration tests; NOT FOR CLINICAL USE'),
        'metrics': metrics,
        'variants': {k: v['precision'] for k, v in files.items() if k.endswith('.onnx')},
    }
    nnsam = stand_in or ((ck.get('init_args') or {}).get('nnsam_edge') or {}).get('sam')
    if edge:
        # A stand-in ships its fp16 weights as model.onnx: that is the file the edge runs. A plain
        # U-Net's edge runs its exported weights on the own runtime (docs/unet-wasm.md).
        extra['edge'] = {**edge, 'file': 'model.onnx'} if stand_in else edge
        if not nnsam:
            extra['edge'] = {**extra['edge'], 'runtime': 'unet-wasm'}
    if refine is not None:
        extra['refine'] = refine
    if nnsam:
        # The nnSAM family: its TinyViT encoder costs ~1.5 s per patch on the CPU provider.
        extra['prefers_gpu'] = True
    m = manifest_dict(model_id, plans, ds, files, r['net'], extra)
    m['parity_onnxruntime_node_max_abs_diff'] = r['parity']
    m['parity_tolerance'] = tol
    write_manifest(out, m)
    if edge:
        # The onnxruntime-web graph of the edge file (docs/platform.md): what the `wasm` device runs,
        # and the edge too where onnxruntime-web runs it.
        build_release(out)
        with open(os.path.join(out, 'manifest.json')) as f:
            m = json.load(f)
    return m


def rewrite_card(run: str, out: str) -> dict:
    """Regenerate README.md of a released model from its manifest and run folder (after the hand-written notes in
    training/cards/ changed), keeping its robustness section, and re-hash it in the manifest. No export, no
    predictions: the metrics are the manifest's."""
    from .model_card import ROBUSTNESS_BEGIN, ROBUSTNESS_END

    with open(os.path.join(out, 'manifest.json')) as f:
        m = json.load(f)
    plans, ds, ck = read_folder(run, 0)
    with open(os.path.join(run, 'fold_0', 'training_log.jsonl')) as f:
        history = [json.loads(line) for line in f]
    with open(os.path.join(out, 'README.md')) as f:
        old = f.read()
    # A web graph's row is web_graph.card_row's, with what it was made from.
    web = {k: f for k, f in m['files'].items() if f.get('web_graph_of')}
    sizes = {k: os.path.getsize(os.path.join(out, k)) for k in m['files'] if k.endswith('.onnx') and k not in web}
    net = build_from_checkpoint(plans, ds, ck)
    info = {'model_id': m['id'], 'version': m['version'], 'plans': plans, 'dataset': ds, 'metrics': m['metrics'],
            'parity': m['parity_onnxruntime_node_max_abs_diff'], 'sizes': sizes, 'history': history,
            'stand_in': m.get('stand_in', False), 'checkpoint': ck, 'tol': m['parity_tolerance'],
            'n_params': sum(p.numel() for p in net.parameters()),
            'n_params_onnx': _onnx_params(os.path.join(out, 'model.onnx'))}
    write_card(out, info)
    i, j = old.find(ROBUSTNESS_BEGIN), old.find(ROBUSTNESS_END)
    if i >= 0 and j >= 0:
        with open(os.path.join(out, 'README.md')) as f:
            new = f.read()
        a, b = new.find(ROBUSTNESS_BEGIN), new.find(ROBUSTNESS_END)
        with open(os.path.join(out, 'README.md'), 'w') as f:
            f.write(new[:a] + old[i:j + len(ROBUSTNESS_END)] + new[b + len(ROBUSTNESS_END):])
    for name, f in web.items():
        with open(os.path.join(out, 'README.md')) as fh:
            text = card_row(fh.read(), f['web_graph_of'], f['bytes'],
                            max(m['parity_web_graph_max_abs_diff'][name].values()))
        with open(os.path.join(out, 'README.md'), 'w') as fh:
            fh.write(text)
    write_manifest(out, m)
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--run', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--dataset', default=None)
    ap.add_argument('--val-case', default=None)
    ap.add_argument('--ablation-run', default=None)
    ap.add_argument('--version', default='0.0.0', help='the release version written to the manifest')
    ap.add_argument('--edge-max-voxels', type=int, default=0,
                    help='mark the model edge-capable up to this many voxels (run inside the Worker on model.web.onnx, '
                         'the onnxruntime-web graph of model.fp16.onnx, training/web_graph.py); 0: nodes only')
    ap.add_argument('--card-only', action='store_true',
                    help='only regenerate the card of the model already released in --out (see rewrite_card)')
    ap.add_argument('--refine', type=json.loads, default=None,
                    help='the model\'s --refine settings as JSON, as bench/refine.ts prints them, e.g. '
                         '\'{"levelset_weight": 0.25, "iterations": 2}\'; written to the manifest\'s inference.refine')
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
    if a.card_only:
        rewrite_card(a.run, a.out)
        return
    edge = {'file': 'model.fp16.onnx', 'max_voxels': a.edge_max_voxels} if a.edge_max_voxels > 0 else None
    m = release(a.run, a.out, os.path.basename(os.path.normpath(a.out)), a.dataset, a.val_case, a.ablation_run,
                version=a.version, edge=edge, refine=a.refine)
    print(json.dumps({'metrics': m.get('metrics'), 'parity': m['parity_onnxruntime_node_max_abs_diff']}, indent=2))


if __name__ == '__main__':
    main()
