/**
 * @module
 * Plain TypeScript normalisation (benchmark baseline for wasm/src/normalize.ts): the same
 * nnU-Net z-score / CT semantics, f64 statistics, no SIMD.
 */
import type { CtStats } from '../../wasm/src/normalize.js';

function apply(
  data: Float32Array,
  mask: Uint8Array | undefined,
  lo: number,
  hi: number,
  mean: number,
  std: number,
): Float32Array {
  const out = data.slice();
  const inv = 1 / Math.max(std, 1e-8);
  for (let i = 0; i < data.length; i++) {
    if (mask && !mask[i]) continue;
    out[i] = (Math.min(Math.max(data[i], lo), hi) - mean) * inv;
  }
  return out;
}

/** Per-image z-score normalisation (over `mask` voxels only when given). */
export function zscoreNormalize(data: Float32Array, mask?: Uint8Array): Float32Array {
  let n = 0;
  let sum = 0;
  for (let i = 0; i < data.length; i++) {
    if (mask && !mask[i]) continue;
    n++;
    sum += data[i];
  }
  if (n === 0) return data.slice();
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < data.length; i++) {
    if (mask && !mask[i]) continue;
    sq += (data[i] - mean) ** 2;
  }
  return apply(data, mask, -Infinity, Infinity, mean, Math.sqrt(sq / n));
}

/** CT normalisation with dataset statistics. */
export function ctNormalize(data: Float32Array, stats: CtStats, mask?: Uint8Array): Float32Array {
  return apply(data, mask, Math.fround(stats.p00_5), Math.fround(stats.p99_5), stats.mean, stats.std);
}
