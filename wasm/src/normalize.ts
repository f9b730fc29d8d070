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
import type { KernelCore, KernelHeap } from './kernel-core.js';

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

/** Runs the apply kernel on a copy of `data`; `params` gives mean/std (null: leave unchanged). */
function normalizeWith(
  core: KernelCore,
  data: Float32Array,
  mask: Uint8Array | undefined,
  lo: number,
  hi: number,
  params: (heap: KernelHeap, dataPtr: number, maskPtr: number) => { mean: number; std: number } | null,
): Float32Array {
  const n = data.length;
  return core.run((heap) => {
    const d = heap.put(data);
    const m = mask === undefined ? 0 : heap.put(mask);
    const p = params(heap, d, m);
    if (p !== null)
      core.fn<ApplyFn>('norm_apply_f32')(d, d, n, m, lo, hi, p.mean, 1 / Math.max(p.std, STD_EPS));
    return heap.take(Float32Array, d, n);
  });
}

/** Per-image z-score normalisation (over `mask` voxels only when a mask is given); returns a new array. */
export function zscoreNormalize(core: KernelCore, data: Float32Array, mask?: Uint8Array): Float32Array {
  checkInputs(data, mask);
  return normalizeWith(core, data, mask, -Infinity, Infinity, (heap, d, m) => {
    const out = heap.alloc(24);
    core.fn<StatsFn>('norm_stats_f32')(out, d, data.length, m);
    const [count, mean, std] = heap.view(Float64Array, out, 3);
    return count > 0 ? { mean, std } : null;
  });
}

/** CT normalisation with dataset statistics (clip, shift, scale); returns a new array. */
export function ctNormalize(
  core: KernelCore,
  data: Float32Array,
  stats: CtStats,
  mask?: Uint8Array,
): Float32Array {
  checkInputs(data, mask);
  const { mean, std, p00_5: lo, p99_5: hi } = stats;
  if (![mean, std, lo, hi].every(Number.isFinite) || lo > hi) {
    throw new KernelArgumentError(
      'kernel_argument',
      `CT statistics must be finite with p00_5 <= p99_5, got ${JSON.stringify(stats)}`,
    );
  }
  // nnU-Net clips an f32 image with the bounds rounded to f32.
  return normalizeWith(core, data, mask, Math.fround(lo), Math.fround(hi), () => ({ mean, std }));
}
