/**
 * @module
 * A plain U-Net release's weights, read out of its exported ONNX file (`model.onnx` or
 * `model.fp16.onnx`) by the names PyTorch gave them, for the runtime that rebuilds the network from
 * them (unet-wasm.ts). The same reading as training/onnx_weights.py: convolutions keep their
 * exported names; each instance norm's scale and shift are the initialisers of the Mul and Add its
 * export scope names. Only the wire format comes from protobufjs; the walk over the few ONNX fields
 * it needs (graph, nodes, initialisers) is here.
 */
import protobuf from 'protobufjs/minimal.js';

const { Reader } = protobuf;

/** An ONNX initialiser as float32, with its dims. */
export interface OnnxWeight {
  dims: number[];
  data: Float32Array;
}

/** The ONNX data types a weight may be stored in. */
const FLOAT = 1;
const FLOAT16 = 10;

/** The file is not an exported plain U-Net this reader understands. */
export class OnnxWeightsError extends Error {
  override readonly name = 'OnnxWeightsError';
}

interface RawTensor {
  name: string;
  dims: number[];
  dataType: number;
  raw: Uint8Array | null;
  external: boolean;
}

interface RawNode {
  opType: string;
  inputs: string[];
  outputs: string[];
}

/** Wire types of the protobuf encoding. */
const VARINT = 0;
const LEN = 2;

function readTensor(bytes: Uint8Array): RawTensor {
  const r = Reader.create(bytes);
  const t: RawTensor = { name: '', dims: [], dataType: 0, raw: null, external: false };
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === VARINT) t.dims.push(r.uint32());
    else if (field === 1 && wire === LEN) {
      const end = r.uint32() + r.pos;
      while (r.pos < end) t.dims.push(r.uint32());
    } else if (field === 2 && wire === VARINT) t.dataType = r.int32();
    else if (field === 8 && wire === LEN) t.name = r.string();
    else if (field === 9 && wire === LEN) t.raw = r.bytes();
    else if (field === 14 && wire === VARINT) t.external = r.int32() === 1;
    else r.skipType(wire);
  }
  return t;
}

function readNode(bytes: Uint8Array): RawNode {
  const r = Reader.create(bytes);
  const n: RawNode = { opType: '', inputs: [], outputs: [] };
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === LEN) n.inputs.push(r.string());
    else if (field === 2 && wire === LEN) n.outputs.push(r.string());
    else if (field === 4 && wire === LEN) n.opType = r.string();
    else r.skipType(wire);
  }
  return n;
}

function readGraph(model: Uint8Array): { nodes: RawNode[]; tensors: RawTensor[] } {
  const r = Reader.create(model);
  let graph: Uint8Array | null = null;
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 7 && (tag & 7) === LEN) graph = r.bytes();
    else r.skipType(tag & 7);
  }
  if (!graph) throw new OnnxWeightsError('the file has no ONNX graph');
  const g = Reader.create(graph);
  const nodes: RawNode[] = [];
  const tensors: RawTensor[] = [];
  while (g.pos < g.len) {
    const tag = g.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === LEN) nodes.push(readNode(g.bytes()));
    else if (field === 5 && wire === LEN) tensors.push(readTensor(g.bytes()));
    else g.skipType(wire);
  }
  return { nodes, tensors };
}

/**
 * IEEE half to float, exactly (subnormals included). Node 20 has no Float16Array; a weight file
 * holds ~5 M of them, decoded once per load.
 */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function toFloat32(t: RawTensor): Float32Array {
  if (t.external || !t.raw) throw new OnnxWeightsError(`initialiser ${t.name} is not stored inline`);
  // Dims are int64 on the wire, read as uint32: a wider or a negative one shows as 2^31 or more.
  if (t.dims.some((d) => d >= 2 ** 31))
    throw new OnnxWeightsError(`initialiser ${t.name} has a dim out of range`);
  const n = t.dims.reduce((a, b) => a * b, 1);
  const size = t.dataType === FLOAT ? 4 : t.dataType === FLOAT16 ? 2 : 0;
  // The bytes stored bound what is allocated.
  if (size === 0 || t.raw.byteLength !== n * size) {
    throw new OnnxWeightsError(`initialiser ${t.name} is neither float32 nor float16 of its dims`);
  }
  const raw = t.raw;
  const out = new Float32Array(n);
  if (size === 4) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  } else {
    const table = halfTable();
    for (let i = 0; i < n; i++) out[i] = table[raw[2 * i] | (raw[2 * i + 1] << 8)];
  }
  return out;
}

let halves: Float32Array | null = null;

/**
 * Every half's float32, from halfToFloat: a table lookup per weight where the arithmetic took
 * about 85 ns (430 ms of brain-wm-2d's load in Node, most of an edge isolate's cold start).
 */
function halfTable(): Float32Array {
  if (!halves) {
    halves = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halves[h] = halfToFloat(h);
  }
  return halves;
}

/**
 * `/net/encoder/stages.0/stages.0.0/convs/convs.0/all_modules/norm/Mul_1_output_0` ->
 * `encoder.stages.0.0.convs.0.norm`: torch.onnx writes each module's cumulative name as a segment.
 */
export function moduleOfScope(scope: string): string {
  const segs = scope
    .split('/')
    .slice(2, -1)
    .filter((s) => s !== 'all_modules');
  return segs.filter((s, i) => !(i + 1 < segs.length && segs[i + 1].startsWith(`${s}.`))).join('.');
}

/** The PyTorch state dict (PlainConvUNet keys, without `net.`) of an exported U-Net's ONNX bytes. */
export function onnxStateDict(model: Uint8Array): Map<string, OnnxWeight> {
  const { nodes, tensors } = readGraph(model);
  // model.fp16.onnx stores `<name>__fp16` and casts it to `<name>`; both files use `<name>` after that.
  const byName = new Map(tensors.map((t) => [t.name.replace(/__fp16$/, ''), t]));
  const state = new Map<string, OnnxWeight>();
  for (const [name, t] of byName) {
    if (name.startsWith('net.')) state.set(name.slice(4), { dims: t.dims, data: toFloat32(t) });
  }
  for (const n of nodes) {
    for (const [op, field] of [
      ['Mul', 'weight'],
      ['Add', 'bias'],
    ] as const) {
      const param = byName.get(n.inputs[1] ?? '');
      if (n.opType === op && n.outputs[0]?.endsWith(`/norm/${op}_1_output_0`) && param) {
        const data = toFloat32(param);
        state.set(`${moduleOfScope(n.outputs[0])}.${field}`, { dims: [data.length], data });
      }
    }
  }
  return state;
}
