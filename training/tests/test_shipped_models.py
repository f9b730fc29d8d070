"""The models in models/: manifests complete, SHA-256 and size budget hold, ONNX matches the PyTorch
goldens (parity/) with onnxruntime-node, max abs diff <= 1e-4 on logits for the fp32 graph. The same
for every older release kept in models/<id>/releases/<version>/ (docs/model-versions.md)."""

import json
import os
import unittest

import numpy as np
import onnx

from training.export import run_onnx_node, sha256
from training.tests.helpers import REPO

MODELS = os.path.join(REPO, 'models')
SHIPPED = ['brain-wm-2d', 'nnsam-tinyvit-random']
PLANS_FIELDS = ['patch_size', 'spacing', 'transpose_forward', 'transpose_backward', 'normalization_schemes',
                'use_mask_for_norm', 'foreground_intensity_properties_per_channel']


class ShippedModelsTest(unittest.TestCase):
    def check_model(self, mid: str):
        """`mid`: a folder under models/, `<id>` or `<id>/releases/<version>`."""
        d = os.path.join(MODELS, mid)
        self.assertTrue(os.path.isfile(os.path.join(d, 'manifest.json')), f'{mid} has no manifest')
        with open(os.path.join(d, 'manifest.json')) as f:
            man = json.load(f)
        for k in PLANS_FIELDS:
            self.assertIn(k, man['plans'], k)
        for k in ('labels', 'channel_names'):
            self.assertIn(k, man['dataset'])
        for k in ('mirroring_axes', 'folds'):
            self.assertIn(k, man['inference'])
        # Explicit, so that readers need no defaults: release version, modality, post-processing, axes.
        self.assertRegex(man['version'], r'^\d+\.\d+\.\d+$')
        self.assertEqual(man['modality'], list(man['dataset']['channel_names'].values()))
        self.assertEqual(set(man['inference']['postprocessing']), {'keep_largest_foreground', 'keep_largest_labels'})
        self.assertEqual(man['inference']['array_axes'], 'nibabel')
        self.assertIn('license', man)
        self.assertIn('provenance', man)
        with open(os.path.join(d, 'README.md')) as f:
            self.assertIn('not for clinical use', f.read().lower())
        for rel, meta in man['files'].items():
            p = os.path.join(d, rel)
            self.assertEqual(sha256(p), meta['sha256'], rel)
            if rel.endswith('.onnx'):
                self.assertLessEqual(os.path.getsize(p), 25 * 1024 * 1024, rel)
                g = onnx.load(p).graph
                self.assertEqual([i.name for i in g.input], [i['name'] for i in man['onnx']['inputs']])
                self.assertEqual([o.name for o in g.output], [o['name'] for o in man['onnx']['outputs']])
        x = np.load(os.path.join(d, 'parity', 'input.npy'))
        tol = man.get('parity_tolerance', 1e-4)  # 1e-4 unless the manifest documents why not
        # Each fold against its own goldens: fold 0 is model*.onnx with parity/, fold k of an ensemble
        # (training/ensemble.py) model.fold<k>*.onnx with parity/fold<k>/ and its member's metrics.
        for k in man['inference']['folds']:
            stem, goldens = ('model', 'parity') if k == 0 else (f'model.fold{k}', os.path.join('parity', f'fold{k}'))
            member = man['files'][f'{stem}.onnx'].get('member')
            metrics = man['metrics']['members'][member] if member else man['metrics']
            self.check_fold(mid, d, stem, goldens, x, tol, metrics)

    def check_fold(self, mid: str, d: str, stem: str, goldens: str, x, tol: float, m: dict):
        got = run_onnx_node(os.path.join(d, f'{stem}.onnx'), x)
        for name in got:
            ref = np.load(os.path.join(d, goldens, name + '.npy'))
            self.assertLessEqual(float(np.abs(got[name] - ref).max()), tol, f'{mid} {stem} {name}')
        logits = np.load(os.path.join(d, goldens, 'logits.npy'))
        if os.path.exists(os.path.join(d, f'{stem}.fp16.onnx')):
            got = run_onnx_node(os.path.join(d, f'{stem}.fp16.onnx'), x)
            # fp16-rounded weights: not bit-parity, but the decision must barely move.
            agree = (got['logits'].argmax(1) == logits.argmax(1)).mean()
            self.assertGreater(agree, 0.995, f'{mid} {stem} fp16 argmax agreement {agree}')
        if os.path.exists(os.path.join(d, f'{stem}.int8.onnx')):
            got = run_onnx_node(os.path.join(d, f'{stem}.int8.onnx'), x)
            agree = (got['logits'].argmax(1) == logits.argmax(1)).mean()
            self.assertGreater(agree, 0.99, f'{mid} {stem} int8 argmax agreement {agree}')
            # Shipped only within the bar: validation Dice at most 0.5 points under fp32.
            self.assertTrue(m['model_int8']['shipped'])
            self.assertLessEqual(m['model_fp32']['dice'] - m['model_int8']['dice'], 0.005)

    def test_brain_wm_2d(self):
        self.check_model('brain-wm-2d')
        with open(os.path.join(MODELS, 'brain-wm-2d', 'manifest.json')) as f:
            self.assertEqual(json.load(f).get('parity_tolerance', 1e-4), 1e-4)

    def test_nnsam_tinyvit_random(self):
        self.check_model('nnsam-tinyvit-random')

    def test_older_releases(self):
        """Each models/<id>/releases/<version>/ is a whole model folder of that id and version."""
        releases = [(mid, v) for mid in sorted(os.listdir(MODELS))
                    if os.path.isdir(os.path.join(MODELS, mid, 'releases'))
                    for v in sorted(os.listdir(os.path.join(MODELS, mid, 'releases')))]
        self.assertIn(('brain-wm-2d', '1.2.0'), releases)
        for mid, v in releases:
            folder = os.path.join(mid, 'releases', v)
            with self.subTest(folder=folder):
                self.assertRegex(v, r'^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$')
                with open(os.path.join(MODELS, folder, 'manifest.json')) as f:
                    man = json.load(f)
                self.assertEqual((man['id'], man['version']), (mid, v))
                self.check_model(folder)


if __name__ == '__main__':
    unittest.main()
