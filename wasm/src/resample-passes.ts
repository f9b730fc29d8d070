/**
 * @module
 * The separable engine behind resample.ts (not public API): scipy's zoom run one axis per WASM pass,
 * with tap tables computed here in f64 exactly as scipy's ni_interpolation.c does, the nearest
 * gather, skimage's output clip, and named scratch buffers reused across label masks.
 */
import type { KernelCore, KernelHeap } from './kernel-core.js';
import type { InterpOrder } from './resample.js';
import { voxelCount, type Shape3 } from './shape.js';

export type Axis = 0 | 1 | 2;

/** scipy's `_prepad_for_spline_filter` edge padding for mode 'nearest'. */
const SPLINE_PAD = 12;

/** Named scratch buffers reused across the per-label resamples of one call (the heap only bumps). */
export class Slots {
  private readonly m = new Map<string, { ptr: number; bytes: number }>();
  constructor(readonly heap: KernelHeap) {}
  get(name: string, bytes: number): number {
    const s = this.m.get(name);
    if (s && s.bytes >= bytes) return s.ptr;
    const ptr = this.heap.alloc(bytes);
    this.m.set(name, { ptr, bytes });
    return ptr;
  }
}

/**
 * skimage resize: zoom on every changed axis, then clip to the input's range, per slice along
 * `sliceAxis` when the resize was per slice (separate z). Returns the result's pointer.
 */
export function resampleClipped(
  core: KernelCore,
  ws: Slots,
  stage: string,
  src: number,
  shape: Shape3,
  newShape: Shape3,
  order: InterpOrder,
  sliceAxis: Axis | null,
): number {
  if (order === 0) return gather(core, ws, stage, src, shape, newShape);
  if (sameShape(shape, newShape)) return src;
  const [outer, n, inner] = sliceAxis === null ? [1, 1, voxelCount(shape)] : split(shape, sliceAxis);
  // Order 1 leaves the input range only by f32 rounding; skimage clips every order.
  const lo = ws.get(`${stage}-lo`, n * 4);
  const hi = ws.get(`${stage}-hi`, n * 4);
  core.fn<(s: number, o: number, n: number, i: number, l: number, h: number) => void>(
    'resample_slice_minmax_f32',
  )(src, outer, n, inner, lo, hi);
  const out = runPasses(core, ws, stage, src, shape, newShape, [order, order, order]);
  const [o2, n2, i2] = sliceAxis === null ? [1, 1, voxelCount(newShape)] : split(newShape, sliceAxis);
  core.fn<(s: number, o: number, n: number, i: number, l: number, h: number) => void>(
    'resample_slice_clip_f32',
  )(out, o2, n2, i2, lo, hi);
  return out;
}

/** (outer, n, inner) view of `shape` around `axis`. */
export function split(shape: Shape3, axis: Axis): [number, number, number] {
  if (axis === 0) return [shape[1] * shape[2], shape[0], 1];
  if (axis === 1) return [shape[2], shape[1], shape[0]];
  return [1, shape[2], shape[0] * shape[1]];
}

/** scipy's input coordinate of output sample k: ((k + 0.5) * (nIn / nOut)) - 0.5, in f64. */
export function coord(k: number, nIn: number, nOut: number): number {
  return (k + 0.5) * (nIn / nOut) - 0.5;
}

/** Nearest-neighbour resample of 4-byte elements: floor(cc + 0.5), clamped as mode 'nearest' does. */
export function gather(
  core: KernelCore,
  ws: Slots,
  stage: string,
  src: number,
  shape: Shape3,
  newShape: Shape3,
): number {
  const strides = [1, shape[0], shape[0] * shape[1]];
  const tables = [0, 1, 2].map((a) => {
    const t = new Int32Array(newShape[a]);
    for (let k = 0; k < t.length; k++) {
      const i = Math.floor(coord(k, shape[a], newShape[a]) + 0.5);
      t[k] = Math.min(Math.max(i, 0), shape[a] - 1) * strides[a];
    }
    return ws.heap.put(t);
  });
  const dst = ws.get(`${stage}-gather`, voxelCount(newShape) * 4);
  core.fn<(...a: number[]) => void>('resample_gather_b32')(src, dst, ...tables, ...newShape);
  return dst;
}

/** Tap record per output (first tap in the padded line, order+1 weights) with scipy's weights. */
function tapTable(nIn: number, nOut: number, order: InterpOrder): { table: ArrayBuffer; pad: number } {
  const buf = new ArrayBuffer(nOut * 20);
  const idx = new Int32Array(buf);
  const w = new Float32Array(buf);
  const pad = order === 3 ? SPLINE_PAD : 1;
  for (let k = 0; k < nOut; k++) {
    const cc = coord(k, nIn, nOut) + (order === 3 ? SPLINE_PAD : 0);
    const r = k * 5;
    if (order === 0) {
      idx[r] = Math.min(Math.max(Math.floor(cc + 0.5) + 1, 0), nIn + 1);
    } else if (order === 1) {
      idx[r] = Math.min(Math.max(Math.floor(cc) + 1, 0), nIn);
      const x = cc - Math.floor(cc);
      w[r + 1] = 1 - x;
      w[r + 2] = 1 - (1 - x);
    } else {
      idx[r] = Math.floor(cc) - 1;
      const x = cc - Math.floor(cc);
      const z = 1 - x;
      const w1 = (x * x * (x - 2) * 3 + 4) / 6;
      const w2 = (z * z * (z - 2) * 3 + 4) / 6;
      const w0 = (z * z * z) / 6;
      w[r + 1] = w0;
      w[r + 2] = w1;
      w[r + 3] = w2;
      w[r + 4] = 1 - w0 - w1 - w2;
    }
  }
  return { table: buf, pad };
}

/**
 * Separable passes over every axis whose size changes, cheapest order first (the tensor product
 * is the same in any order). Returns the pointer of the result (src itself when nothing changes).
 */
export function runPasses(
  core: KernelCore,
  ws: Slots,
  stage: string,
  src: number,
  shape: Shape3,
  newShape: Shape3,
  orders: [InterpOrder, InterpOrder, InterpOrder],
): number {
  const axes = passOrder(shape, newShape, orders);
  if (axes.length === 0) return src;
  const shapes: Shape3[] = [];
  let cur: Shape3 = shape;
  for (const a of axes) {
    const next: [number, number, number] = [cur[0], cur[1], cur[2]];
    next[a] = newShape[a];
    shapes.push(next);
    cur = next;
  }
  const size = (odd: number): number =>
    Math.max(...shapes.filter((_, i) => i % 2 === odd).map(voxelCount)) * 4;
  const bufA = ws.get(`${stage}-a`, size(0));
  const bufB = axes.length > 1 ? ws.get(`${stage}-b`, size(1)) : 0;
  const scratch = ws.get(
    'scratch',
    Math.max(...axes.map((a) => shape[a] + 2 * SPLINE_PAD + newShape[a])) * 64,
  );
  const pass = core.fn<(...a: number[]) => void>('resample_axis_f32');
  let from = src;
  cur = shape;
  axes.forEach((a, i) => {
    const to = i % 2 === 0 ? bufA : bufB;
    const { table, pad } = tapTable(cur[a], newShape[a], orders[a]);
    const tab = ws.get('table', table.byteLength);
    ws.heap.view(Int32Array, tab, table.byteLength / 4).set(new Int32Array(table));
    const [outer, n, inner] = split(cur, a);
    pass(from, to, outer, n, inner, newShape[a], orders[a], pad, tab, scratch);
    from = to;
    cur = shapes[i];
  });
  return from;
}

/** Changed axes ordered to minimise work: a pass costs (lines) x (samples in + taps out). */
function passOrder(shape: Shape3, newShape: Shape3, orders: readonly InterpOrder[]): Axis[] {
  const changed = ([0, 1, 2] as Axis[]).filter((a) => shape[a] !== newShape[a]);
  const perms = (xs: Axis[]): Axis[][] =>
    xs.length <= 1 ? [xs] : xs.flatMap((x) => perms(xs.filter((y) => y !== x)).map((p) => [x, ...p]));
  let best: Axis[] = changed;
  let bestCost = Infinity;
  for (const p of perms(changed)) {
    const d = [...shape];
    let cost = 0;
    for (const a of p) {
      const lines = (d[0] * d[1] * d[2]) / d[a];
      cost +=
        lines * (d[a] * (orders[a] === 3 ? 3 : 1) + newShape[a] * (orders[a] + 1)) * (a === 0 ? 1.2 : 1);
      d[a] = newShape[a];
    }
    if (cost < bestCost) {
      bestCost = cost;
      best = p;
    }
  }
  return best;
}

/** `shape` with axis `a` set to `n`. */
export function withAxis(shape: Shape3, a: Axis, n: number): Shape3 {
  const r: [number, number, number] = [shape[0], shape[1], shape[2]];
  r[a] = n;
  return r;
}

/** True when both shapes are equal. */
export function sameShape(a: Shape3, b: Shape3): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}
