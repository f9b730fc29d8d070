/**
 * @module
 * Plain TypeScript sliding-window aggregation (benchmark baseline for wasm/src/sliding-window.ts):
 * accumulates straight into volume-sized f32 buffers, no SIMD and no window copies.
 */
import type { Shape3 } from '../../wasm/src/shape.js';

export { computeSlidingWindowSteps } from '../../wasm/src/sliding-window.js';

/** Gaussian importance map of a patch (separable, max 1, zeros lifted to the smallest non-zero value). */
export function gaussianImportanceMap(patch: Shape3, sigmaScale = 1 / 8): Float32Array {
  const axes = patch.map((n) => {
    const sigma = n * sigmaScale;
    const c = Math.floor(n / 2);
    const radius = Math.trunc(4 * sigma + 0.5);
    return Array.from({ length: n }, (_, i) =>
      Math.abs(i - c) <= radius ? Math.exp((-0.5 * (i - c) ** 2) / (sigma * sigma)) : 0,
    );
  });
  const [px, py, pz] = patch;
  const out = new Float32Array(px * py * pz);
  for (let z = 0; z < pz; z++)
    for (let y = 0; y < py; y++)
      for (let x = 0; x < px; x++) out[(z * py + y) * px + x] = axes[2][z] * axes[1][y] * axes[0][x];
  let smallest = Infinity;
  for (const v of out) if (v > 0 && v < smallest) smallest = v;
  return out.map((v) => (v === 0 ? smallest : v));
}

/** Weighted patch accumulation into `[C][volume]`, then `acc / weights`. */
export class PatchAccumulator {
  private readonly acc: Float32Array;
  private readonly weights: Float32Array;
  private readonly gaussian: Float32Array;

  /** An empty accumulator for `channels` planes of `volume` and patches of `patch`. */
  constructor(
    private readonly channels: number,
    private readonly volume: Shape3,
    private readonly patch: Shape3,
  ) {
    this.acc = new Float32Array(channels * volume[0] * volume[1] * volume[2]);
    this.weights = new Float32Array(volume[0] * volume[1] * volume[2]);
    this.gaussian = gaussianImportanceMap(patch);
  }

  /** Adds `[C][patch]` logits weighted by the Gaussian at window start `offset`. */
  add(patchLogits: Float32Array, offset: readonly [number, number, number]): void {
    const [nx, ny] = this.volume;
    const [px, py, pz] = this.patch;
    const vn = this.weights.length;
    const pn = this.gaussian.length;
    for (let z = 0; z < pz; z++)
      for (let y = 0; y < py; y++)
        for (let x = 0; x < px; x++) {
          const p = (z * py + y) * px + x;
          const v = ((offset[2] + z) * ny + offset[1] + y) * nx + offset[0] + x;
          const g = this.gaussian[p];
          this.weights[v] += g;
          for (let c = 0; c < this.channels; c++) this.acc[c * vn + v] += patchLogits[c * pn + p] * g;
        }
  }

  /** `acc / weights` as `[C][volume]`. */
  finish(): Float32Array {
    const vn = this.weights.length;
    return this.acc.map((a, i) => a / this.weights[i % vn]);
  }
}
