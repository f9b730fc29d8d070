/**
 * @module
 * Resampling with nnU-Net v2 semantics (`nnunetv2/preprocessing/resampling/default_resampling.py`):
 * data through `skimage.transform.resize(order, mode='edge', anti_aliasing=False)` (scipy zoom with
 * grid_mode, mode 'nearest', output clipped to the input range), label maps through batchgenerators'
 * `resize_segmentation` (one-hot per label, painted where >= 0.5), and the "separate z" variant:
 * in-plane resize per slice, then `map_coordinates(order_z, mode='nearest')` along the low-resolution
 * axis. The 3D interpolation runs separably, one axis per WASM pass.
 */
import type { KernelCore } from './kernel-core.js';
import { KernelArgumentError } from './kernel-errors.js';
import {
  Slots,
  coord,
  gather,
  resampleClipped,
  runPasses,
  sameShape,
  withAxis,
  type Axis,
} from './resample-passes.js';
import { checkSpacing, checkVolume, voxelCount, type Shape3, type Spacing3 } from './shape.js';

/** Spline order: 0 nearest, 1 linear, 3 cubic B-spline. */
export type InterpOrder = 0 | 1 | 3;

/** How to resample; see nnU-Net's `resample_data_or_seg`. */
export interface ResampleOptions {
  order: InterpOrder;
  /** Order along the separate axis (nnU-Net's order_z); default 0. */
  orderZ?: InterpOrder;
  /** axis (0=x,1=y,2=z) resampled separately with orderZ, or null */
  separateZAxis?: 0 | 1 | 2 | null;
}

type LabelArray = Uint8Array | Uint16Array | Int16Array | Int32Array;

/** nnU-Net's ANISO_THRESHOLD: max/min spacing above this resamples the low-resolution axis apart. */
const ANISO_THRESHOLD = 3;

/** Python's round(): half to even, as nnU-Net's compute_new_shape applies it. */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** nnU-Net's `compute_new_shape`: round(old_spacing / new_spacing * shape) per axis, at least 1. */
export function computeNewShape(shape: Shape3, spacing: Spacing3, newSpacing: Spacing3): Shape3 {
  checkShape(shape, 'shape');
  checkSpacing(spacing);
  checkSpacing(newSpacing, 'new spacing');
  const r = [0, 1, 2].map((a) => Math.max(1, roundHalfEven((spacing[a] / newSpacing[a]) * shape[a])));
  return [r[0], r[1], r[2]];
}

/** Axes whose spacing equals the largest (nnU-Net's `get_lowres_axis`). */
function lowresAxes(spacing: Spacing3): number[] {
  const m = Math.max(...spacing);
  return [0, 1, 2].filter((a) => m / spacing[a] === 1);
}

/**
 * nnU-Net's `determine_do_sep_z_and_axis`: 'auto' (force_separate_z=None) checks the current spacing,
 * then the new one, for max/min > 3; 'on' forces the low-resolution axis of `spacing`; 'off' never.
 * Two or three axes sharing the largest spacing disable it.
 */
export function chooseSeparateZ(
  spacing: Spacing3,
  newSpacing: Spacing3,
  mode: 'auto' | 'on' | 'off',
): 0 | 1 | 2 | null {
  checkSpacing(spacing);
  checkSpacing(newSpacing, 'new spacing');
  const aniso = (s: Spacing3): boolean => Math.max(...s) / Math.min(...s) > ANISO_THRESHOLD;
  let axes: number[] | null = null;
  if (mode === 'on') axes = lowresAxes(spacing);
  else if (mode === 'auto') {
    if (aniso(spacing)) axes = lowresAxes(spacing);
    else if (aniso(newSpacing)) axes = lowresAxes(newSpacing);
  } else if (mode !== 'off')
    throw new KernelArgumentError('kernel_argument', `separate-z mode must be auto, on or off`);
  return axes !== null && axes.length === 1 ? (axes[0] as Axis) : null;
}

/** Resamples a float volume to `newShape` (nnU-Net's data path, `resample_data_or_seg`). */
export function resampleVolume(
  core: KernelCore,
  data: Float32Array,
  shape: Shape3,
  newShape: Shape3,
  options: ResampleOptions,
): Float32Array {
  checkVolume(shape, data);
  const { order, orderZ, axis } = checkOptions(newShape, options);
  if (sameShape(shape, newShape)) return data.slice();
  return core.run((heap) => {
    const src = heap.put(data);
    const out = resampleF32(core, new Slots(heap), src, shape, newShape, order, orderZ, axis);
    return heap.take(Float32Array, out, voxelCount(newShape));
  });
}

/** Resamples a label map (nnU-Net's seg path: `resize_segmentation`, one-hot per label for order >= 1). */
export function resampleLabels<T extends LabelArray>(
  core: KernelCore,
  labels: T,
  shape: Shape3,
  newShape: Shape3,
  options: ResampleOptions,
): T {
  if (!(
    labels instanceof Uint8Array ||
    labels instanceof Uint16Array ||
    labels instanceof Int16Array ||
    labels instanceof Int32Array
  )) {
    throw new KernelArgumentError(
      'kernel_argument',
      'labels must be a Uint8Array, Uint16Array, Int16Array or Int32Array',
    );
  }
  checkVolume(shape, labels, 'labels');
  const { order, orderZ, axis } = checkOptions(newShape, options);
  const ctor = labels.constructor as new (src: ArrayLike<number>) => T;
  if (sameShape(shape, newShape)) return labels.slice() as T;
  const result = core.run((heap) => {
    const n = voxelCount(shape);
    const src = heap.alloc(n * 4);
    heap.view(Int32Array, src, n).set(labels);
    const ws = new Slots(heap);
    let cur = src;
    let curShape = shape;
    if (axis === null) {
      cur = resampleLabelsStep(core, ws, 'all', cur, curShape, newShape, order, null, false);
    } else {
      // In plane per slice (resize_segmentation), then along the axis (map_coordinates, round(p) > 0.5).
      const mid = withAxis(newShape, axis, shape[axis]);
      if (!sameShape(shape, mid))
        cur = resampleLabelsStep(core, ws, 'plane', cur, curShape, mid, order, axis, false);
      curShape = mid;
      if (!sameShape(mid, newShape))
        cur = resampleLabelsStep(core, ws, 'axis', cur, curShape, newShape, orderZ, null, true);
    }
    return heap.take(Int32Array, cur, voxelCount(newShape));
  });
  return new ctor(result);
}

// One label resampling step: nearest gather for order 0, else every label's one-hot mask resampled
// (clipped per slice along `sliceAxis` when given, else over the volume) and painted in sorted order.
function resampleLabelsStep(
  core: KernelCore,
  ws: Slots,
  stage: string,
  src: number,
  shape: Shape3,
  newShape: Shape3,
  order: InterpOrder,
  sliceAxis: Axis | null,
  strict: boolean,
): number {
  const n = voxelCount(shape);
  const m = voxelCount(newShape);
  if (order === 0) return gather(core, ws, stage, src, shape, newShape);
  const values = uniqueSorted(ws.heap.view(Int32Array, src, n));
  const out = ws.heap.zeros(Int32Array, m);
  const mask = ws.get(`${stage}-mask`, n * 4);
  const onehot = core.fn<(d: number, l: number, n: number, v: number) => void>('resample_onehot_i32');
  const paint =
    core.fn<(o: number, p: number, n: number, v: number, t: number, s: number) => void>('resample_paint_i32');
  values.forEach((value, i) => {
    // Painting the smallest label 0 onto the zero-filled output changes nothing.
    if (i === 0 && value === 0) return;
    onehot(mask, src, n, value);
    const orders: [InterpOrder, InterpOrder, InterpOrder] = [order, order, order];
    const prob = strict
      ? runPasses(core, ws, stage, mask, shape, newShape, orders)
      : resampleClipped(core, ws, stage, mask, shape, newShape, order, sliceAxis);
    if (order === 1) {
      const changed = [0, 1, 2].map((a) => shape[a] !== newShape[a] && a !== sliceAxis);
      settleTies(
        ws.heap.view(Int32Array, src, n),
        shape,
        newShape,
        value,
        ws.heap.view(Float32Array, prob, m),
        changed,
        strict,
      );
    }
    paint(out, prob, m, value, 0.5, strict ? 1 : 0);
  });
  return out;
}

/**
 * Order-1 one-hot values within f32 error of the 0.5 threshold (exact ties are common: a voxel
 * halfway between two labels) are recomputed as scipy does, in f64 with its tap order and product
 * order (((v * wz) * wy) * wx summed z-major), and replaced by a decisive 0 or 1.
 */
function settleTies(
  labels: Int32Array,
  shape: Shape3,
  newShape: Shape3,
  value: number,
  prob: Float32Array,
  changed: boolean[],
  strict: boolean,
): void {
  const [nx, ny] = shape;
  const [ox, oy] = newShape;
  // Per axis and output index: two clamped taps and their f64 weights (scipy's order-1 weights).
  const taps = [0, 1, 2].map((a) => {
    const t = new Float64Array(newShape[a] * 4);
    for (let k = 0; k < newShape[a]; k++) {
      if (!changed[a]) {
        t.set([k, 1, k, 0], k * 4);
        continue;
      }
      const cc = coord(k, shape[a], newShape[a]);
      const f = Math.floor(cc);
      const w0 = 1 - (cc - f);
      const clamp = (i: number): number => Math.min(Math.max(i, 0), shape[a] - 1);
      t.set([clamp(f), w0, clamp(f + 1), 1 - w0], k * 4);
    }
    return t;
  });
  const [tx, ty, tz] = taps;
  for (let i = 0; i < prob.length; i++) {
    if (Math.abs(prob[i] - 0.5) > 1e-5) continue;
    const x = i % ox;
    const y = Math.floor(i / ox) % oy;
    const z = Math.floor(i / (ox * oy));
    let t = 0;
    for (let a = 0; a < 2; a++) {
      for (let b = 0; b < 2; b++) {
        for (let c = 0; c < 2; c++) {
          const idx = tx[x * 4 + 2 * c] + nx * (ty[y * 4 + 2 * b] + ny * tz[z * 4 + 2 * a]);
          const v = labels[idx] === value ? 1 : 0;
          t += v * tz[z * 4 + 2 * a + 1] * ty[y * 4 + 2 * b + 1] * tx[x * 4 + 2 * c + 1];
        }
      }
    }
    prob[i] = (strict ? t > 0.5 : t >= 0.5) ? 1 : 0;
  }
}

/** Sorted distinct values of an Int32Array (np.unique / sorted pd.unique). */
function uniqueSorted(a: Int32Array): number[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    if (a[i] < lo) lo = a[i];
    if (a[i] > hi) hi = a[i];
  }
  if (hi - lo < 1 << 20) {
    const seen = new Uint8Array(hi - lo + 1);
    for (let i = 0; i < a.length; i++) seen[a[i] - lo] = 1;
    const out: number[] = [];
    seen.forEach((s, i) => s && out.push(i + lo));
    return out;
  }
  return [...new Set(a)].sort((x, y) => x - y);
}

// The float path inside the heap; returns the pointer of the newShape result.
function resampleF32(
  core: KernelCore,
  ws: Slots,
  src: number,
  shape: Shape3,
  newShape: Shape3,
  order: InterpOrder,
  orderZ: InterpOrder,
  axis: Axis | null,
): number {
  if (axis === null) return resampleClipped(core, ws, 'all', src, shape, newShape, order, null);
  if (order === 0 && orderZ === 0) return gather(core, ws, 'all', src, shape, newShape);
  const mid = withAxis(newShape, axis, shape[axis]);
  const inPlane = resampleClipped(core, ws, 'plane', src, shape, mid, order, axis);
  const orders: [InterpOrder, InterpOrder, InterpOrder] = [orderZ, orderZ, orderZ];
  return runPasses(core, ws, 'axis', inPlane, mid, newShape, orders);
}

function checkShape(shape: Shape3, what: string): void {
  if (shape.length !== 3 || !shape.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new KernelArgumentError(
      'kernel_shape',
      `${what} must be three positive integers, got [${shape.join(', ')}]`,
    );
  }
}

function checkOptions(
  newShape: Shape3,
  options: ResampleOptions,
): { order: InterpOrder; orderZ: InterpOrder; axis: Axis | null } {
  checkShape(newShape, 'new shape');
  const orderZ = options.orderZ ?? 0;
  for (const o of [options.order, orderZ]) {
    if (o !== 0 && o !== 1 && o !== 3)
      throw new KernelArgumentError('kernel_argument', `interpolation order must be 0, 1 or 3, got ${o}`);
  }
  const axis = options.separateZAxis ?? null;
  if (axis !== null && axis !== 0 && axis !== 1 && axis !== 2) {
    throw new KernelArgumentError(
      'kernel_argument',
      `separateZAxis must be 0, 1, 2 or null, got ${String(axis)}`,
    );
  }
  return { order: options.order, orderZ, axis };
}
