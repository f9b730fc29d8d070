/**
 * @module
 * Intensity normalisation with nnU-Net v2 semantics (`default_normalization_schemes.py`).
 *
 * - {@link zscoreNormalize}: `ZScoreNormalization`. Without a mask, `(x - mean) / max(std, 1e-8)` over
 *   all voxels; with a mask (nnU-Net's `use_mask_for_norm`: the crop's hole-filled non-zero mask), the
 *   mean and std come from the mask voxels only and only those voxels change.
 * - {@link ctNormalize}: `CTNormalization`. Clip to `[p00_5, p99_5]`, then `(x - mean) / max(std, 1e-8)`
 *   with dataset statistics. nnU-Net ignores the mask for CT; here an optional mask restricts which
 *   voxels change (others keep their raw value), for callers that normalise only a region.
 *
 * Statistics are f64 (population std, ddof 0); the shift and scale run in f64 lanes and round once to
 * f32. An empty mask changes nothing (nnU-Net's `image[mask]` is then empty).
 */
import { KernelArgumentError } from './kernel-errors.js';
import type { KernelCore, KernelHeap, KernelLease } from './kernel-core.js';

/** Dataset foreground intensity statistics (plans.json `foreground_intensity_properties_per_channel`). */
export interface CtStats {
  mean: number;
  std: number;
  p00_5: number;
  p99_5: number;
}

/** nnU-Net's floor on the standard deviation for f32 targets. */
const STD_EPS = 1e-8;

type StatsFn = (out: number, data: number, n: number, mask: number) => void;
type ApplyFn = (
  out: number,
  data: number,
  n: number,
  mask: number,
  lo: number,
  hi: number,
  mean: number,
  inv: number,
) => void;

function checkInputs(data: Float32Array, mask: Uint8Array | undefined): void {
  if (!(data instanceof Float32Array))
    throw new KernelArgumentError('kernel_type', 'normalisation needs a Float32Array');
  if (data.length === 0)
    throw new KernelArgumentError('kernel_shape', 'normalisation needs at least one voxel');
  if (mask !== undefined && mask.length !== data.length) {
    throw new KernelArgumentError(
      'kernel_shape',
      `mask has ${mask.length} elements but the image has ${data.length}`,
    );
  }
}

/** Mean and std of the normalisation, or null to leave the image unchanged. */
type Params = (heap: KernelHeap, dataPtr: number, maskPtr: number) => { mean: number; std: number } | null;

/** `n` f32 voxels in kernel memory: where they are, and what to hand back afterwards. */
interface Placement<T> {
  place(heap: KernelHeap): number;
  finish(heap: KernelHeap, ptr: number): T;
}

/** A copy of `data` in kernel memory, normalised and copied back out. */
const copyOf = (data: Float32Array): Placement<Float32Array> => ({
  place: (heap) => heap.put(data),
  finish: (heap, ptr) => heap.take(Float32Array, ptr, data.length),
});

/** Voxels already in a lease, normalised where they are. */
const inLease = (lease: KernelLease): Placement<void> => ({
  place: () => lease.ptr,
  finish: () => {},
});

function checkLeased(lease: KernelLease, length: number, mask: Uint8Array | undefined): void {
  if (lease.isReleased) throw new KernelArgumentError('kernel_state', 'kernel lease used after release');
  if (!Number.isSafeInteger(length) || length < 1 || length * 4 > lease.bytes) {
    throw new KernelArgumentError(
      'kernel_shape',
      `normalisation of ${length} voxels needs ${length * 4} leased bytes, the lease has ${lease.bytes}`,
    );
  }
  if (mask !== undefined && mask.length !== length) {
    throw new KernelArgumentError(
      'kernel_shape',
      `mask has ${mask.length} elements but the image has ${length}`,
    );
  }
}

function checkCtStats(stats: CtStats): CtStats {
  const { mean, std, p00_5: lo, p99_5: hi } = stats;
  if (![mean, std, lo, hi].every(Number.isFinite) || lo > hi) {
    throw new KernelArgumentError(
      'kernel_argument',
      `CT statistics must be finite with p00_5 <= p99_5, got ${JSON.stringify(stats)}`,
    );
  }
  return stats;
}

/** Runs the apply kernel on the placed voxels; `params` gives mean/std (null: leave unchanged). */
function normalizeAt<T>(
  core: KernelCore,
  n: number,
  at: Placement<T>,
  mask: Uint8Array | undefined,
  lo: number,
  hi: number,
  params: Params,
): T {
  return core.run((heap) => {
    const d = at.place(heap);
    const m = mask === undefined ? 0 : heap.put(mask);
    const p = params(heap, d, m);
    if (p !== null)
      core.fn<ApplyFn>('norm_apply_f32')(d, d, n, m, lo, hi, p.mean, 1 / Math.max(p.std, STD_EPS));
    return at.finish(heap, d);
  });
}

/** The z-score's statistics of `n` voxels: over the mask voxels when there is a mask. */
function zscoreParams(core: KernelCore, n: number): Params {
  return (heap, d, m) => {
    const out = heap.alloc(24);
    core.fn<StatsFn>('norm_stats_f32')(out, d, n, m);
    const [count, mean, std] = heap.view(Float64Array, out, 3);
    return count > 0 ? { mean, std } : null;
  };
}

/** Per-image z-score normalisation (over `mask` voxels only when a mask is given); returns a new array. */
export function zscoreNormalize(core: KernelCore, data: Float32Array, mask?: Uint8Array): Float32Array {
  checkInputs(data, mask);
  return normalizeAt(
    core,
    data.length,
    copyOf(data),
    mask,
    -Infinity,
    Infinity,
    zscoreParams(core, data.length),
  );
}

/**
 * {@link zscoreNormalize} of the first `length` f32 of `lease`, in place: for a volume that lives in
 * kernel memory, so it is never copied in or out.
 */
export function zscoreNormalizeLeased(
  core: KernelCore,
  lease: KernelLease,
  length: number,
  mask?: Uint8Array,
): void {
  checkLeased(lease, length, mask);
  normalizeAt(core, length, inLease(lease), mask, -Infinity, Infinity, zscoreParams(core, length));
}

/** CT normalisation with dataset statistics (clip, shift, scale); returns a new array. */
export function ctNormalize(
  core: KernelCore,
  data: Float32Array,
  stats: CtStats,
  mask?: Uint8Array,
): Float32Array {
  checkInputs(data, mask);
  const { mean, std, p00_5: lo, p99_5: hi } = checkCtStats(stats);
  // nnU-Net clips an f32 image with the bounds rounded to f32.
  return normalizeAt(core, data.length, copyOf(data), mask, Math.fround(lo), Math.fround(hi), () => ({
    mean,
    std,
  }));
}

/** {@link ctNormalize} of the first `length` f32 of `lease`, in place (see {@link zscoreNormalizeLeased}). */
export function ctNormalizeLeased(
  core: KernelCore,
  lease: KernelLease,
  length: number,
  stats: CtStats,
  mask?: Uint8Array,
): void {
  checkLeased(lease, length, mask);
  const { mean, std, p00_5: lo, p99_5: hi } = checkCtStats(stats);
  normalizeAt(core, length, inLease(lease), mask, Math.fround(lo), Math.fround(hi), () => ({ mean, std }));
}
