/**
 * @module
 * Mirroring test-time augmentation: the flip combinations nnU-Net averages, and the flip itself.
 */
import type { Plane } from '../preprocessing/axes.js';

/** Every combination of `axes` (spatial axes of a 2D patch: 0 = rows, 1 = columns), the identity first, as the reference orders them. */
export function mirrorCombinations(axes: readonly number[]): number[][] {
  const combos: number[][] = [[]];
  for (const a of axes) combos.push([a]);
  if (axes.length === 2) combos.push([axes[0], axes[1]]);
  return combos;
}

/** Flips `count` row-major planes of size `plane` along the given spatial axes; returns a new array. */
export function flipPlanes(
  data: Float32Array,
  count: number,
  plane: Plane,
  axes: readonly number[],
): Float32Array {
  const out = new Float32Array(data.length);
  const { rows, cols } = plane;
  const flipRows = axes.includes(0);
  const flipCols = axes.includes(1);
  const pixels = rows * cols;
  for (let p = 0; p < count; p++) {
    for (let r = 0; r < rows; r++) {
      const src = p * pixels + (flipRows ? rows - 1 - r : r) * cols;
      const dst = p * pixels + r * cols;
      if (flipCols) for (let c = 0; c < cols; c++) out[dst + c] = data[src + cols - 1 - c];
      else out.set(data.subarray(src, src + cols), dst);
    }
  }
  return out;
}
