"""The onnxruntime-web graph (training/web_graph.py): Winograd's identity, which convolutions are
rewritten, outputs against the source graph on onnxruntime-node, and that every shipped web graph is
what the script makes from its source file and stays within parity of it."""

import json
import os
import tempfile
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from training.export import run_onnx_node, sha256
from training.tests.helpers import REPO
from training.web_graph import AT, BT, G, WEB_FILE, card_row, max_abs_diff, rewrite

MODELS = os.path.join(REPO, 'models')


def conv2d_valid(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Cross-correlation, as Conv computes it, of a 2D tile with a 3x3 kernel, 'valid' borders."""
    n = d.shape[0] - 2
    return np.array([[float((d[i:i + 3, j:j + 3] * g).sum()) for j in range(n)] for i in range(n)])


def small_model(rng) -> onnx.ModelProto:
    """input [N,1,16,16] -> Conv 1->64 -> LeakyRelu -> Conv 64->64 (fp16 weight behind a Cast, bias) ->
    Conv 64->64 (no bias) -> Conv 64->64 stride 2 -> Conv 64->16 -> Conv 16->16: the second and third
    are eligible."""
    def w(k, c):
        return (rng.standard_normal((k, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    inits = [numpy_helper.from_array(w(64, 1), 'w0'), numpy_helper.from_array(np.zeros(64, np.float32), 'b0'),
             numpy_helper.from_array(w(64, 64).astype(np.float16), 'w1_fp16'),
             numpy_helper.from_array(rng.standard_normal(64).astype(np.float32), 'b1'),
             numpy_helper.from_array(w(64, 64), 'w2'), numpy_helper.from_array(w(16, 64), 'w3'),
             numpy_helper.from_array(w(16, 16), 'w4'), numpy_helper.from_array(w(64, 64), 'w5')]
    conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    nodes = [
        helper.make_node('Conv', ['input', 'w0', 'b0'], ['c0'], **conv),
        helper.make_node('LeakyRelu', ['c0'], ['a0'], alpha=0.01),
        helper.make_node('Cast', ['w1_fp16'], ['w1'], to=TensorProto.FLOAT),
        helper.make_node('Conv', ['a0', 'w1', 'b1'], ['c1'], **conv),
        helper.make_node('Conv', ['c1', 'w5'], ['c5'], **conv),
        helper.make_node('Conv', ['c5', 'w2'], ['c2'], strides=[2, 2], **conv),
        helper.make_node('Conv', ['c2', 'w3'], ['c3'], **conv),
        helper.make_node('Conv', ['c3', 'w4'], ['logits'], **conv),
    ]
    graph = helper.make_graph(nodes, 'small', [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                                                            ['batch', 1, 16, 16])],
                              [helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['batch', 16, 8, 8])],
                              inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    m.ir_version = 8
    return m


class WinogradTest(unittest.TestCase):
    def test_f2x2_3x3_identity(self):
        rng = np.random.default_rng(1)
        for _ in range(20):
            d, g = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
            y = AT @ ((G @ g @ G.T) * (BT @ d @ BT.T)) @ AT.T
            np.testing.assert_allclose(y, conv2d_valid(d, g), atol=1e-12)

    def test_rewrite_matches_the_source_graph(self):
        rng = np.random.default_rng(2)
        src = small_model(rng)
        out, counts = rewrite(src)
        # Two eligible convolutions (64 -> 64, stride 1, with and without a bias); 1->64, stride 2, 64->16
        # and 16->16 stay.
        self.assertEqual(counts, {'winograd': 2, 'leaky_relu': 1})
        ops = [n.op_type for n in out.graph.node]
        self.assertEqual(ops.count('LeakyRelu'), 0)
        self.assertEqual(ops.count('Conv'), 4 + 2)  # the kept four and the rewrites' input transforms
        # The rewritten layer's weights are stored once, as fp16 still, the same values laid out [9, K, C].
        inits = {i.name: numpy_helper.to_array(i) for i in out.graph.initializer}
        self.assertNotIn('w1_fp16', inits)
        self.assertNotIn('w5', inits)
        w16, w32 = sorted((v for k, v in inits.items() if k.endswith('_w9')), key=lambda v: v.dtype.itemsize)
        src_w = {i.name: numpy_helper.to_array(i) for i in src.graph.initializer}
        self.assertEqual((w16.dtype, w32.dtype), (np.float16, np.float32))
        np.testing.assert_array_equal(w16, src_w['w1_fp16'].reshape(64, 64, 9).transpose(2, 0, 1))
        np.testing.assert_array_equal(w32, src_w['w5'].reshape(64, 64, 9).transpose(2, 0, 1))
        self.assertEqual(sum(i.dims and np.prod(i.dims) for i in out.graph.initializer if i.data_type == TensorProto.FLOAT16),
                         sum(np.prod(i.dims) for i in src.graph.initializer if i.data_type == TensorProto.FLOAT16))
        with tempfile.TemporaryDirectory() as d:
            a, b = os.path.join(d, 'src.onnx'), os.path.join(d, 'web.onnx')
            onnx.save(src, a)
            onnx.save(out, b)
            x = rng.standard_normal((3, 1, 16, 16)).astype(np.float32)
            ref = run_onnx_node(a, x)['logits']
            diff = max_abs_diff(a, b, x)['logits']
        scale = float(np.abs(ref).max())
        self.assertGreater(diff, 0)  # a different computation, not the same graph
        self.assertLessEqual(diff, 1e-5 * scale, f'max diff {diff} against outputs up to {scale}')


class CardRowTest(unittest.TestCase):
    def test_row_joins_the_file_table_once(self):
        card = '# m\n\n## Files and checks\n| file | size |\n|---|---:|\n| `model.onnx` | 1.00 MB |\n\nmore\n'
        once = card_row(card, 'model.fp16.onnx', 2_000_000, 1.5e-5)
        rows = [ln for ln in once.split('\n') if ln.startswith('| `')]
        self.assertEqual(len(rows), 2)
        self.assertTrue(rows[1].startswith(f'| `{WEB_FILE}` | 2.00 MB: `model.fp16.onnx` in the onnxruntime-web graph'))
        self.assertEqual(card_row(once, 'model.fp16.onnx', 2_000_000, 1.5e-5), once)  # rebuilt, not added
        self.assertEqual(card_row('# a card without a file table\n', 'x', 1, 0.0), '# a card without a file table\n')


class ShippedWebGraphsTest(unittest.TestCase):
    def test_every_shipped_web_graph(self):
        checked = []
        for root, _, files in os.walk(MODELS):
            if 'manifest.json' not in files:
                continue
            with open(os.path.join(root, 'manifest.json')) as f:
                man = json.load(f)
            graphs = {k: v for k, v in man['files'].items() if 'web_graph_of' in v}
            for name, entry in graphs.items():
                with self.subTest(model=os.path.relpath(root, MODELS), file=name):
                    src = os.path.join(root, entry['web_graph_of'])
                    # The committed file is what the script makes from its source, byte for byte.
                    out, counts = rewrite(onnx.load(src))
                    self.assertEqual(counts, entry['rewritten'])
                    with tempfile.TemporaryDirectory() as d:
                        onnx.save(out, os.path.join(d, name))
                        self.assertEqual(sha256(os.path.join(d, name)), entry['sha256'])
                    x = np.load(os.path.join(root, 'parity', 'input.npy'))
                    diff = max_abs_diff(src, os.path.join(root, name), x)
                    self.assertLessEqual(max(diff.values()), man.get('parity_tolerance', 1e-4), diff)
                    golden = np.load(os.path.join(root, 'parity', 'logits.npy'))
                    got = run_onnx_node(os.path.join(root, name), x)['logits']
                    agree = (got.argmax(1) == golden.argmax(1)).mean()
                    self.assertGreater(agree, 0.995, f'argmax agreement with the fp32 golden {agree}')
                    checked.append(os.path.relpath(root, MODELS))
        # The current brain-wm-2d and its 1.2.0 and 2.0.0 releases carry one (the `wasm` device runs
        # it); their edge runs the fp16 weights on the own U-Net runtime (docs/unet-wasm.md).
        self.assertIn('brain-wm-2d', checked)
        self.assertIn(os.path.join('brain-wm-2d', 'releases', '2.0.0'), checked)
        with open(os.path.join(MODELS, 'brain-wm-2d', 'manifest.json')) as f:
            edge = json.load(f)['edge']
        self.assertEqual((edge['file'], edge['runtime']), ('model.fp16.onnx', 'unet-wasm'))


if __name__ == '__main__':
    unittest.main()
