"""The onnxruntime-web graph of a model: the same weights, in operators its WASM build runs faster.

onnxruntime-web runs on 128-bit WASM SIMD without FMA, ~5x slower than onnxruntime-node per call
(bench/results/ort-web.md): 82 % of that is the 3x3 convolutions (im2col + SGEMM, already near that
SIMD's peak, so only fewer multiply-accumulates help) and 5 % LeakyRelu. Two rewrites, measured on
onnxruntime-web 1.30, one thread (docs/platform.md, "The onnxruntime-web graph"):

- **Winograd F(2x2, 3x3)** (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
  CVPR 2016) for the stride-1 3x3 convolutions with at least 64 input and output channels and at
  most 256 x 128 channel pairs: each 2x2 output tile from a 4x4 input tile with 16
  multiply-accumulates per channel pair instead of 36, 2.25x fewer, as 16 batched MatMuls. The tile
  transforms are convolutions with fixed kernels whose cost grows with the channels while the saving
  grows with their product: on the 16- and 32-channel layers the rewrite was slower. The wider layers
  would make the session's WASM heap too large for an isolate (see MAX_CHANNEL_PAIRS), and F(4x4,
  3x3) (4x fewer) moved logits by 1.3e-4, over the 1e-4 parity bound; neither is used.
- **LeakyRelu as Max(x, alpha x)**: the same value bit for bit (alpha in (0, 1)), on two vectorised
  element-wise kernels instead of onnxruntime-web's scalar LeakyRelu.

What a rewritten Conv computes (X: [N, C, H, W], W: [K, C, 3, 3], stride 1, pad 1, P = HW/4 tiles):
  V = Conv(Reshape(X, [N*C, 1, H, W]), B)      B: [16, 1, 4, 4] = B^T d B of every tile, stride 2
  U = Einsum(GG, W as [9, K, C]) = G W G^T     [16, K, C], constant-folded at load
  M = MatMul(U, V as [16, C, N*P])
  Y = ConvTranspose(M as [N*K, 16, H/2, W/2], A) + b   A: [16, 1, 2, 2] = A^T M A, stride 2
The file stores a rewritten layer's weights once, in the source's dtype (fp16 behind a Cast in the
fp16 file), the same values laid out [9, K, C]: it keeps its size and its weights stay the source
file's. onnxruntime folds U into one float32 initializer when the session is created (16/9 of those
layers' weights, in float32).

The result equals the source graph up to float32 rounding; `build_release` refuses a file that moves
outputs beyond the manifest's parity tolerance on the release's parity input, and
training/tests/test_web_graph.py checks the transforms, a rewritten model and every shipped web
graph; test/engine/web-graph-memory.test.ts bounds the session's WASM heap.

Run: /usr/bin/python3 -m training.web_graph --release models/brain-wm-2d   (writes model.web.onnx from
the edge file, points the manifest's edge entry at it)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

# Lavin & Gray's F(2x2, 3x3) matrices: Y = A^T [(G g G^T) * (B^T d B)] A. B and A hold only 0 and +-1,
# G halves: the transforms add no rounding of their own beyond float32 sums.
BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)

# Below this many input or output channels the tile transforms cost more than they save (measured).
MIN_CHANNELS = 64
# Above this many channel pairs (C * K) a layer keeps its direct convolution: the session holds U in
# float32 (16/9 of the layer's weights, built at load), and the 256- and 512-channel layers, 80 % of
# brain-wm-2d's weights, would take the WASM heap past what a 128 MB isolate can give it
# (docs/platform.md).
MAX_CHANNEL_PAIRS = 256 * 128
WEB_FILE = 'model.web.onnx'
# The edge's file budget: every ONNX file a release ships fits it (training/release.py checks its exports).
MAX_EDGE_BYTES = 25 * 1024 * 1024
ROLE = ('onnxruntime-web graph of {src}: the same weights, wide 3x3 convolutions as Winograd F(2x2, 3x3), '
        'LeakyRelu as Max (training/web_graph.py)')


def _attrs(node) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _winograd_eligible(node, shapes: dict, weight_shape) -> bool:
    if node.op_type != 'Conv' or weight_shape is None or len(weight_shape) != 4:
        return False
    a = _attrs(node)
    k, c, kh, kw = weight_shape
    if (kh, kw) != (3, 3) or a.get('group', 1) != 1 or a.get('auto_pad', b'NOTSET') not in (b'NOTSET', 'NOTSET'):
        return False
    if list(a.get('strides', [1, 1])) != [1, 1] or list(a.get('dilations', [1, 1])) != [1, 1]:
        return False
    if list(a.get('pads', [0, 0, 0, 0])) != [1, 1, 1, 1]:
        return False
    x = shapes.get(node.input[0])
    if x is None or len(x) != 4 or not all(isinstance(d, int) and d > 0 for d in x[2:]):
        return False  # the tiling needs static spatial sizes
    return min(c, k) >= MIN_CHANNELS and c * k <= MAX_CHANNEL_PAIRS and x[2] % 2 == 0 and x[3] % 2 == 0


def _weight_sources(model) -> dict:
    """Every float32 weight tensor a node reads, by name: (its initializer, the Cast that makes it
    float32 or None), for a float32 initializer or a Cast of one to float32 (the fp16 file), when
    nothing else reads either. Other weights keep their convolution as it is."""
    inits = {i.name: i for i in model.graph.initializer}
    readers: dict[str, int] = {}
    for n in model.graph.node:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    single = {name: init for name, init in inits.items() if readers.get(name) == 1}
    out = {name: (init, None) for name, init in single.items() if init.data_type == TensorProto.FLOAT}
    for n in model.graph.node:
        if (n.op_type == 'Cast' and n.input[0] in single and readers.get(n.output[0]) == 1
                and _attrs(n).get('to') == TensorProto.FLOAT):
            out.pop(n.input[0], None)
            out[n.output[0]] = (single[n.input[0]], n)
    return out


def _activation_shapes(model) -> dict:
    inferred = shape_inference.infer_shapes(model)
    out = {}
    for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        out[v.name] = [d.dim_value if d.HasField('dim_value') else None for d in v.type.tensor_type.shape.dim]
    return out


CONSTANTS = {
    # U[a*4+b] = sum_ij G[a,i] G[b,j] W[i*3+j]: G g G^T for every kernel g at once.
    'winograd_GG': np.einsum('ai,bj->abij', G, G).reshape(16, 9).astype(np.float32),
    'winograd_B': np.einsum('ai,bj->abij', BT, BT).reshape(16, 1, 4, 4).astype(np.float32),
    'winograd_A': np.einsum('ia,jb->abij', AT, AT).reshape(16, 1, 2, 2).astype(np.float32),
}


def _weight_nodes(init, cast, p: str, added: list) -> list:
    """U = G W G^T, [16, K, C], from the layer's weights stored as [9, K, C] (the same values, in the
    source's dtype): one Einsum, behind the Cast for fp16, all constant, so folded when the session
    loads. Two folded steps, not a chain of reshapes and MatMuls, because onnxruntime keeps every
    folded intermediate until the session is built and the WASM heap never shrinks (docs/platform.md)."""
    w = numpy_helper.to_array(init)
    k, c = w.shape[:2]
    added.append(numpy_helper.from_array(np.ascontiguousarray(w.reshape(k, c, 9).transpose(2, 0, 1)), p + 'w9'))
    nodes, w32 = [], p + 'w9'
    if cast is not None:
        nodes.append(helper.make_node('Cast', [p + 'w9'], [p + 'w9_f32'], to=TensorProto.FLOAT))
        w32 = p + 'w9_f32'
    return nodes + [helper.make_node('Einsum', ['winograd_GG', w32], [p + 'u'], equation='xj,jkc->xkc')]


def _winograd_nodes(node, k: int, c: int, h: int, w: int, p: str, shape) -> list:
    th, tw = h // 2, w // 2
    x = node.input[0]
    nodes = [
        # V = B^T d B of every 4x4 tile (stride 2) of every channel: [N*C, 16, H/2, W/2].
        helper.make_node('Reshape', [x, shape('x1', [-1, 1, h, w])], [p + 'x1']),
        helper.make_node('Conv', [p + 'x1', 'winograd_B'], [p + 'v'], kernel_shape=[4, 4], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node('Reshape', [p + 'v', shape('v4', [-1, c, 16, th * tw])], [p + 'v4']),
        helper.make_node('Transpose', [p + 'v4'], [p + 'vt'], perm=[2, 1, 0, 3]),
        helper.make_node('Reshape', [p + 'vt', shape('v3', [16, c, -1])], [p + 'v3']),
        helper.make_node('MatMul', [p + 'u', p + 'v3'], [p + 'm']),
        helper.make_node('Reshape', [p + 'm', shape('m4', [16, k, -1, th * tw])], [p + 'm4']),
        helper.make_node('Transpose', [p + 'm4'], [p + 'mt'], perm=[2, 1, 0, 3]),
        helper.make_node('Reshape', [p + 'mt', shape('m5', [-1, 16, th, tw])], [p + 'm5']),
        # Y = A^T M A, each 2x2 output tile from its 16 values: a stride-2 ConvTranspose.
        helper.make_node('ConvTranspose', [p + 'm5', 'winograd_A'], [p + 'y1'], kernel_shape=[2, 2], strides=[2, 2]),
    ]
    if len(node.input) > 2 and node.input[2]:
        return nodes + [
            helper.make_node('Reshape', [p + 'y1', shape('y4', [-1, k, h, w])], [p + 'y4']),
            helper.make_node('Reshape', [node.input[2], shape('b4', [1, k, 1, 1])], [p + 'b4']),
            helper.make_node('Add', [p + 'y4', p + 'b4'], [node.output[0]]),
        ]
    return nodes + [helper.make_node('Reshape', [p + 'y1', shape('y4', [-1, k, h, w])], [node.output[0]])]


def _leaky_relu_nodes(node, p: str, added: list) -> list:
    alpha = _attrs(node).get('alpha', 0.01)
    assert 0 < alpha < 1, f'LeakyRelu alpha {alpha}: max(x, alpha x) is LeakyRelu only for alpha in (0, 1)'
    added.append(numpy_helper.from_array(np.array(alpha, np.float32), p + 'alpha'))
    return [helper.make_node('Mul', [node.input[0], p + 'alpha'], [p + 'scaled']),
            helper.make_node('Max', [node.input[0], p + 'scaled'], [node.output[0]])]


def rewrite(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, int]]:
    """A copy of `model` in its onnxruntime-web form, and how many nodes of each kind were rewritten."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    shapes = _activation_shapes(model)
    weights = _weight_sources(model)
    g = model.graph
    new_nodes, added, counts, dropped = [], [], {'winograd': 0, 'leaky_relu': 0}, set()
    for idx, node in enumerate(g.node):
        p = f'web_{idx}_'
        init, cast = weights.get(node.input[1], (None, None)) if len(node.input) > 1 else (None, None)
        if init is not None and _winograd_eligible(node, shapes, list(init.dims)):
            def shape(name, dims, p=p):
                added.append(numpy_helper.from_array(np.array(dims, np.int64), p + name + '_shape'))
                return p + name + '_shape'

            h, w = shapes[node.input[0]][2:]
            new_nodes += _weight_nodes(init, cast, p, added)
            new_nodes += _winograd_nodes(node, init.dims[0], init.dims[1], h, w, p, shape)
            dropped.add(init.name)
            if cast is not None:
                dropped.add(id(cast))
            counts['winograd'] += 1
        elif node.op_type == 'LeakyRelu':
            new_nodes += _leaky_relu_nodes(node, p, added)
            counts['leaky_relu'] += 1
        else:
            new_nodes.append(node)
    if counts['winograd']:
        added += [numpy_helper.from_array(v, name) for name, v in CONSTANTS.items()]
    kept_inits = [i for i in g.initializer if i.name not in dropped]
    del g.node[:]
    g.node.extend(n for n in new_nodes if id(n) not in dropped)
    del g.initializer[:]
    g.initializer.extend(kept_inits + added)
    onnx.checker.check_model(model)
    return model, counts


def max_abs_diff(a: str, b: str, x: np.ndarray) -> dict:
    """Per output, max |a - b| of two ONNX files on input x, both on onnxruntime-node."""
    from .export import run_onnx_node
    ya, yb = run_onnx_node(a, x), run_onnx_node(b, x)
    return {k: float(np.abs(ya[k] - yb[k]).max()) for k in ya}


def build_release(folder: str) -> dict:
    """Writes `folder`/model.web.onnx from the release's edge file, with its row in the card, and points
    `edge.file` at it when onnxruntime-web runs the edge (the own U-Net runtime, `edge.runtime:
    unet-wasm`, reads the exported weights instead, docs/unet-wasm.md; the web graph then serves the
    `wasm` device). Nothing in the folder changes unless every check passes."""
    from .export import sha256
    path = os.path.join(folder, 'manifest.json')
    with open(path) as f:
        man = json.load(f)
    edge = man.get('edge')
    if not edge:
        raise SystemExit(f'{folder}: no edge entry, nothing runs on onnxruntime-web')
    src = man['files'][edge['file']].get('web_graph_of', edge['file'])  # rebuilding: from the same source
    out, counts = rewrite(onnx.load(os.path.join(folder, src)))
    tol = man.get('parity_tolerance', 1e-4)
    # Beside the release, so that the final moves are renames on one file system.
    with tempfile.TemporaryDirectory(dir=folder) as d:
        tmp = os.path.join(d, WEB_FILE)
        onnx.save(out, tmp)
        size = os.path.getsize(tmp)
        if size > MAX_EDGE_BYTES:
            raise SystemExit(f'{folder}: {WEB_FILE} is {size} bytes, over the {MAX_EDGE_BYTES} edge budget')
        x = np.load(os.path.join(folder, 'parity', 'input.npy'))
        diff = max_abs_diff(os.path.join(folder, src), tmp, x)
        if max(diff.values()) > tol:
            raise SystemExit(f'{folder}: the web graph moves outputs by {diff}, over {tol}')
        man['files'][WEB_FILE] = {
            'role': ROLE.format(src=src), 'web_graph_of': src, 'precision': man['files'][src].get('precision'),
            'rewritten': counts, 'bytes': size, 'sha256': sha256(tmp),
        }
        man.setdefault('parity_web_graph_max_abs_diff', {})[WEB_FILE] = diff
        if edge.get('runtime', 'onnxruntime-web') == 'onnxruntime-web':
            man['edge'] = {**edge, 'file': WEB_FILE}
        card = os.path.join(folder, 'README.md')
        card_tmp = os.path.join(d, 'README.md')
        if os.path.exists(card) and 'README.md' in man['files']:
            with open(card) as f:
                text = card_row(f.read(), src, size, max(diff.values()))
            with open(card_tmp, 'w') as f:
                f.write(text)
            man['files']['README.md'].update(bytes=os.path.getsize(card_tmp), sha256=sha256(card_tmp))
        manifest_tmp = os.path.join(d, 'manifest.json')
        with open(manifest_tmp, 'w') as f:
            json.dump(man, f, indent=2)
            f.write('\n')
        os.replace(tmp, os.path.join(folder, WEB_FILE))
        if os.path.exists(card_tmp):
            os.replace(card_tmp, card)
        os.replace(manifest_tmp, path)
    return {'file': os.path.join(folder, WEB_FILE), 'rewritten': counts, 'max_abs_diff_vs_source': diff}


def card_row(text: str, src: str, size: int, max_diff: float) -> str:
    """The card `text` with the web graph's row in its file table (training/model_card.py writes the
    others), replacing an earlier one; unchanged when the card has no such table."""
    lines = [ln for ln in text.split('\n') if not ln.startswith(f'| `{WEB_FILE}` |')]
    if '## Files and checks' not in lines:
        return '\n'.join(lines)
    last = lines.index('## Files and checks') + 1
    while last + 1 < len(lines) and lines[last + 1].startswith('|'):
        last += 1
    lines.insert(last + 1, f'| `{WEB_FILE}` | {size / 1e6:.2f} MB: `{src}` in the onnxruntime-web graph, what '
                           f'`--device wasm` runs (training/web_graph.py), outputs within {max_diff:.1e} of it |')
    return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--release', action='append', required=True, help='a model folder with an edge entry (repeatable)')
    for folder in ap.parse_args().release:
        print(json.dumps(build_release(folder)))


if __name__ == '__main__':
    main()
