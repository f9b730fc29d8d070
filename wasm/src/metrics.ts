/**
 * @module
 * Segmentation metrics as docs/metrics.md defines them: Dice; surface = mask minus its erosion by the full
 * 3x3x3 box (voxels outside the volume count as background; a `[w, h, 1]` image uses the 3x3 square);
 * ASD = mean and HD95 = 95th percentile (numpy's linear interpolation) of the pooled distances in mm
 * from each surface voxel of one mask to the nearest surface voxel of the other, both ways.
 * Both masks empty: dice 1, asd 0, hd95 0. Exactly one empty: dice 0, asd and hd95 null.
 */
import { edtInHeap, EdtMode } from './edt.js';
import { KernelArgumentError } from './kernel-errors.js';
import type { KernelCore, KernelHeap } from './kernel-core.js';
import { checkSpacing, checkVolume, voxelCount, type Shape3, type Spacing3 } from './shape.js';

/** Overlap and surface-distance metrics of one structure. */
export interface OverlapMetrics {
  dice: number;
  asd_mm: number | null;
  hd95_mm: number | null;
}

type Fn3 = (a: number, b: number, c: number, d: number) => void;
type Surface = (s: number, m: number, t: number, nx: number, ny: number, nz: number, twoD: number) => number;
type Bbox = (o: number, a: number, b: number, nx: number, ny: number, nz: number) => void;
type Gather = (pool: number, dist: number, surf: number, n: number) => number;

/** numpy.percentile(values, q) with the default linear method; sorts `values` in place. */
export function percentileLinear(values: Float32Array | Float64Array, q: number): number {
  values.sort();
  const pos = (q / 100) * (values.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, values.length - 1);
  const t = pos - lo;
  const a = values[lo];
  const b = values[hi];
  // numpy's _lerp, which interpolates from the nearer end.
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

/** Copies the `box` region (x0, x1, y0, y1, z0, z1) of a u8 volume in kernel memory to a new buffer. */
function cropInHeap(heap: KernelHeap, src: number, shape: Shape3, box: Int32Array): number {
  const [nx, ny] = shape;
  const w = box[1] - box[0];
  const h = box[3] - box[2];
  const d = box[5] - box[4];
  const dst = heap.alloc(w * h * d);
  const mem = heap.view(Uint8Array, 0, dst + w * h * d);
  let o = dst;
  for (let z = box[4]; z < box[5]; z++) {
    for (let y = box[2]; y < box[3]; y++) {
      const row = src + (z * ny + y) * nx;
      mem.copyWithin(o, row + box[0], row + box[1]);
      o += w;
    }
  }
  return dst;
}

/** Dice, ASD and HD95 of two 0/1 masks (any non-zero is foreground) with voxel spacing in mm. */
export function binaryMetrics(
  core: KernelCore,
  pred: Uint8Array,
  ref: Uint8Array,
  shape: Shape3,
  spacing: Spacing3,
): OverlapMetrics {
  checkVolume(shape, pred, 'pred');
  checkVolume(shape, ref, 'ref');
  checkSpacing(spacing);
  const n = voxelCount(shape);
  return core.run((heap) => {
    const a = heap.put(pred);
    const b = heap.put(ref);
    const counts = heap.alloc(12);
    core.fn<Fn3>('metrics_counts_u8')(counts, a, b, n);
    const [na, nb, both] = heap.take(Int32Array, counts, 3);
    if (na === 0 && nb === 0) return { dice: 1, asd_mm: 0, hd95_mm: 0 };
    const dice = (2 * both) / (na + nb);
    if (na === 0 || nb === 0) return { dice, asd_mm: null, hd95_mm: null };

    const tmp = heap.alloc(n);
    const sa = heap.alloc(n);
    const sb = heap.alloc(n);
    const surface = core.fn<Surface>('metrics_surface_u8');
    const twoD = shape[2] === 1 ? 1 : 0;
    const ca = surface(sa, a, tmp, shape[0], shape[1], shape[2], twoD);
    const cb = surface(sb, b, tmp, shape[0], shape[1], shape[2], twoD);
    // Distances between surface voxels never leave the box around both surfaces: crop to it.
    const boxPtr = heap.alloc(24);
    core.fn<Bbox>('metrics_bbox2_u8')(boxPtr, sa, sb, shape[0], shape[1], shape[2]);
    const box = heap.take(Int32Array, boxPtr, 6);
    const cropShape: Shape3 = [box[1] - box[0], box[3] - box[2], box[5] - box[4]];
    const csa = cropInHeap(heap, sa, shape, box);
    const csb = cropInHeap(heap, sb, shape, box);
    const cn = voxelCount(cropShape);
    const pool = heap.alloc((ca + cb) * 4);
    const gather = core.fn<Gather>('metrics_gather_f32');
    const toB = edtInHeap(core, heap, csb, cropShape, spacing, EdtMode.ToNonzero);
    gather(pool, toB, csa, cn);
    const toA = edtInHeap(core, heap, csa, cropShape, spacing, EdtMode.ToNonzero);
    gather(pool + ca * 4, toA, csb, cn);
    const distances = heap.take(Float32Array, pool, ca + cb);
    let sum = 0;
    for (let i = 0; i < distances.length; i++) sum += distances[i];
    return { dice, asd_mm: sum / distances.length, hd95_mm: percentileLinear(distances, 95) };
  });
}

/** {@link binaryMetrics} per label of two label maps, keyed by the label as a string. */
export function labelMetrics(
  core: KernelCore,
  pred: ArrayLike<number>,
  ref: ArrayLike<number>,
  shape: Shape3,
  spacing: Spacing3,
  labels: number[],
): Record<string, OverlapMetrics> {
  checkVolume(shape, pred, 'pred');
  checkVolume(shape, ref, 'ref');
  checkSpacing(spacing);
  for (const l of labels) {
    if (!Number.isFinite(l))
      throw new KernelArgumentError('kernel_label', `labels must be finite numbers, got ${l}`);
  }
  const n = voxelCount(shape);
  const out: Record<string, OverlapMetrics> = {};
  const pm = new Uint8Array(n);
  const rm = new Uint8Array(n);
  for (const l of labels) {
    for (let i = 0; i < n; i++) {
      pm[i] = pred[i] === l ? 1 : 0;
      rm[i] = ref[i] === l ? 1 : 0;
    }
    out[String(l)] = binaryMetrics(core, pm, rm, shape, spacing);
  }
  return out;
}
