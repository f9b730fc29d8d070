/**
 * @module
 * Plain-TypeScript baseline of wasm/src/resample.ts for the benchmark: the same nnU-Net resampling
 * (skimage resize / scipy zoom with mode 'nearest', map_coordinates for separate z, one-hot label
 * resize), scalar f64, one axis per pass, no WASM and no SIMD.
 */
import type { ResampleOptions } from '../../wasm/src/resample.js';
import type { Shape3 } from '../../wasm/src/shape.js';

export { chooseSeparateZ, computeNewShape } from '../../wasm/src/resample.js';

const POLE = Math.sqrt(3) - 2;
const PAD = 12;

/** scipy's cubic B-spline prefilter with the 'nearest' (reflect) initialisation, in place. */
function prefilter(c: Float64Array): void {
  const n = c.length;
  const gain = (1 - POLE) * (1 - 1 / POLE);
  for (let i = 0; i < n; i++) c[i] *= gain;
  const zn = POLE ** n;
  const c0 = c[0];
  let s = c[0] + zn * c[n - 1];
  let zi = POLE;
  for (let i = 1; i < n; i++) {
    s += zi * (c[i] + zn * c[n - 1 - i]);
    zi *= POLE;
  }
  c[0] = s * (POLE / (1 - zn * zn)) + c0;
  for (let i = 1; i < n; i++) c[i] += POLE * c[i - 1];
  c[n - 1] *= POLE / (POLE - 1);
  for (let i = n - 2; i >= 0; i--) c[i] = POLE * (c[i + 1] - c[i]);
}

/** Taps and weights of every output sample along one axis (scipy ni_interpolation.c). */
function taps(nIn: number, nOut: number, order: number): { idx: Int32Array; w: Float64Array } {
  const m = order + 1;
  const idx = new Int32Array(nOut * m);
  const w = new Float64Array(nOut * m);
  const len = order === 3 ? nIn + 2 * PAD : nIn;
  for (let k = 0; k < nOut; k++) {
    const cc = (k + 0.5) * (nIn / nOut) - 0.5 + (order === 3 ? PAD : 0);
    const start = order === 0 ? Math.floor(cc + 0.5) : Math.floor(cc) - (order === 3 ? 1 : 0);
    const x = cc - Math.floor(cc);
    // scipy's formulas, the last weight being 1 minus the others (ni_splines.c).
    const z = 1 - x;
    const ws =
      order === 0
        ? []
        : order === 1
          ? [1 - x]
          : [(z * z * z) / 6, (x * x * (x - 2) * 3 + 4) / 6, (z * z * (z - 2) * 3 + 4) / 6];
    ws.push(ws.reduce((r, v) => r - v, 1));
    for (let t = 0; t < m; t++) {
      idx[k * m + t] = Math.min(Math.max(start + t, 0), len - 1);
      w[k * m + t] = ws[t];
    }
  }
  return { idx, w };
}

/** Resamples `src` of `shape` along `axis` to `nOut` samples. */
function resampleAxis(
  src: Float64Array,
  shape: Shape3,
  axis: number,
  nOut: number,
  order: number,
): Float64Array {
  const n = shape[axis];
  const inner = axis === 0 ? 1 : axis === 1 ? shape[0] : shape[0] * shape[1];
  const outer = src.length / (n * inner);
  const dst = new Float64Array(outer * nOut * inner);
  const { idx, w } = taps(n, nOut, order);
  const m = order + 1;
  const line = new Float64Array(order === 3 ? n + 2 * PAD : n);
  const off = order === 3 ? PAD : 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      for (let k = 0; k < line.length; k++)
        line[k] = src[base + Math.min(Math.max(k - off, 0), n - 1) * inner];
      if (order === 3) prefilter(line);
      const ob = o * nOut * inner + i;
      for (let k = 0; k < nOut; k++) {
        let s = 0;
        for (let t = 0; t < m; t++) s += w[k * m + t] * line[idx[k * m + t]];
        dst[ob + k * inner] = s;
      }
    }
  }
  return dst;
}

/** Every changed axis in turn, clipped to the input range per slice along `sliceAxis` (or overall). */
function resize(
  src: Float64Array,
  shape: Shape3,
  newShape: Shape3,
  order: number,
  sliceAxis: number | null,
): Float64Array {
  let cur = src;
  const s: [number, number, number] = [shape[0], shape[1], shape[2]];
  for (let a = 0; a < 3; a++) {
    if (s[a] === newShape[a]) continue;
    cur = resampleAxis(cur, s, a, newShape[a], order);
    s[a] = newShape[a];
  }
  if (order === 0 || cur === src) return cur;
  const slice = (i: number, sh: Shape3): number =>
    sliceAxis === null
      ? 0
      : sliceAxis === 0
        ? i % sh[0]
        : sliceAxis === 1
          ? Math.floor(i / sh[0]) % sh[1]
          : Math.floor(i / (sh[0] * sh[1]));
  const slices = sliceAxis === null ? 1 : shape[sliceAxis];
  const lo = new Float64Array(slices).fill(Infinity);
  const hi = new Float64Array(slices).fill(-Infinity);
  src.forEach((v, i) => {
    const k = slice(i, shape);
    lo[k] = Math.min(lo[k], v);
    hi[k] = Math.max(hi[k], v);
  });
  cur.forEach((v, i) => {
    const k = slice(i, newShape);
    cur[i] = Math.min(Math.max(v, lo[k]), hi[k]);
  });
  return cur;
}

function midShape(shape: Shape3, newShape: Shape3, axis: number): Shape3 {
  const r: [number, number, number] = [newShape[0], newShape[1], newShape[2]];
  r[axis] = shape[axis];
  return r;
}

/** Plain version of wasm/src/resample.ts resampleVolume. */
export function resampleVolume(
  data: Float32Array,
  shape: Shape3,
  newShape: Shape3,
  options: ResampleOptions,
): Float32Array {
  const axis = options.separateZAxis ?? null;
  const src = Float64Array.from(data);
  if (axis === null) return Float32Array.from(resize(src, shape, newShape, options.order, null));
  const mid = midShape(shape, newShape, axis);
  const inPlane = resize(src, shape, mid, options.order, axis);
  return Float32Array.from(resampleAxis(inPlane, mid, axis, newShape[axis], options.orderZ ?? 0));
}

// One label step: order 0 resamples the labels, otherwise one-hot masks are painted in sorted order.
function labelStep(
  src: Float64Array,
  shape: Shape3,
  newShape: Shape3,
  order: number,
  sliceAxis: number | null,
  strict: boolean,
): Float64Array {
  if (order === 0) return resize(src, shape, newShape, 0, null);
  const out = new Float64Array(newShape[0] * newShape[1] * newShape[2]);
  for (const value of [...new Set(src)].sort((a, b) => a - b)) {
    const mask = src.map((v) => (v === value ? 1 : 0));
    const p = strict
      ? resampleAxis(mask, shape, sliceAxis ?? 2, newShape[sliceAxis ?? 2], order)
      : resize(mask, shape, newShape, order, sliceAxis);
    p.forEach((v, i) => {
      if (strict ? v > 0.5 : v >= 0.5) out[i] = value;
    });
  }
  return out;
}

/** Plain version of wasm/src/resample.ts resampleLabels. */
export function resampleLabels<T extends Uint8Array | Uint16Array | Int16Array | Int32Array>(
  labels: T,
  shape: Shape3,
  newShape: Shape3,
  options: ResampleOptions,
): T {
  const axis = options.separateZAxis ?? null;
  let cur: Float64Array = Float64Array.from(labels);
  if (axis === null) cur = labelStep(cur, shape, newShape, options.order, null, false);
  else {
    const mid = midShape(shape, newShape, axis);
    cur = labelStep(cur, shape, mid, options.order, axis, false);
    if (mid[axis] !== newShape[axis]) {
      const z = options.orderZ ?? 0;
      cur =
        z === 0
          ? resampleAxis(cur, mid, axis, newShape[axis], 0)
          : labelStep(cur, mid, newShape, z, axis, true);
    }
  }
  return new (labels.constructor as new (a: ArrayLike<number>) => T)(cur);
}
