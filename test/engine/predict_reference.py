"""Runs training/predict.py (the PyTorch/numpy/scipy reference predictor) on one NIfTI image with an
exported model, for the engine's parity test. The network is the model's ONNX file served by
onnxruntime-node (dist/test/engine/onnx-serve.js), so the parity test isolates the pipeline:
preprocessing, sliding window, mirroring, resampling back, softmax/argmax.

Usage: /usr/bin/python3 test/engine/predict_reference.py MODEL_DIR IMAGE.nii.gz OUT_DIR
Writes OUT_DIR/labels.npy (uint8, nibabel [X, Y, Z]) and OUT_DIR/probabilities.npy (float32, [K, X, Y, Z]).
"""

import json
import os
import subprocess
import sys
import tempfile

import nibabel as nib
import numpy as np
import torch
from scipy.special import softmax
from skimage.transform import resize

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, REPO)
from training.predict import postprocess, predict_slices, predict_volume  # noqa: E402
from training.preprocessing import preprocess_case  # noqa: E402




class OnnxNet:
    """Callable like the training networks (returns (logits, levelset)); memoises repeated batches."""

    def __init__(self, model_path: str, tmp: str):
        self.proc = subprocess.Popen(['node', os.path.join(REPO, 'dist/test/engine/onnx-serve.js'), model_path],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == 'ready'
        self.path = os.path.join(tmp, 'batch.f32')
        self.cache = {}

    def eval(self):
        return self

    def __call__(self, x: torch.Tensor):
        a = np.ascontiguousarray(x.numpy(), dtype=np.float32)
        key = a.tobytes()
        if key not in self.cache:
            a.tofile(self.path)
            self.proc.stdin.write(f'{self.path} {" ".join(map(str, a.shape))}\n')
            self.proc.stdin.flush()
            shapes = json.loads(self.proc.stdout.readline())
            outs = {n: np.fromfile(f'{self.path}.{n}', np.float32).reshape(s) for n, s in shapes.items()}
            self.cache[key] = (outs['logits'], outs.get('levelset'))
        lo, ls = self.cache[key]
        return torch.from_numpy(lo.copy()), (None if ls is None else torch.from_numpy(ls.copy()))

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def main() -> None:
    model_dir, image_path, out_dir = sys.argv[1:4]
    with open(os.path.join(model_dir, 'manifest.json')) as f:
        manifest = json.load(f)
    with open(os.path.join(model_dir, 'plans.json')) as f:
        plans = json.load(f)
    im = nib.load(image_path)
    img = np.asarray(im.dataobj, dtype=np.float32)
    sp = tuple(float(s) for s in im.header.get_zooms()[:3])
    nc = len(manifest['dataset']['labels'])
    mirror = tuple(manifest['inference']['mirroring_axes'])
    onnx_file = next(k for k, v in manifest['files'].items() if k.endswith('.onnx') and v.get('fold') == 0)
    with tempfile.TemporaryDirectory() as tmp:
        net = OnnxNet(os.path.join(model_dir, onnx_file), tmp)
        try:
            labels = postprocess(predict_volume(net, img, sp, plans, nc, mirror),
                                 manifest['inference'].get('postprocessing'))
            # Probabilities: predict_volume's own steps up to its argmax (the net calls are memoised).
            cfg = plans['configurations']['2d']
            data, _, props = preprocess_case(img, None, sp, plans, '2d')
            logits = predict_slices(net, data, cfg['patch_size'], nc, mirror)
            tgt = props['shape_after_crop']
            if list(logits.shape[1:]) != tgt:
                logits = np.stack([resize(c, tgt, order=1, mode='edge', anti_aliasing=False) for c in logits])
            probs = np.zeros((nc,) + img.shape, np.float32)
            probs[0] = 1
            probs[(slice(None),) + tuple(slice(a, b) for a, b in props['bbox'])] = softmax(logits, axis=0)
        finally:
            net.close()
    np.save(os.path.join(out_dir, 'labels.npy'), labels)
    np.save(os.path.join(out_dir, 'probabilities.npy'), probs)


if __name__ == '__main__':
    main()
