/**
 * @module
 * NaN and infinite voxels. Float images often hold NaN outside a mask (FSL, ANTs and SPM write them so),
 * and a scale factor can overflow float32 to infinity. Left in, one of them spreads through the intensity
 * normalisation and the answer is an empty label map (found by review). They are read as 0, the
 * background the crop to non-zero already leaves out, and the result says how many there were.
 */
import type { ImageVolume, VoxelArray } from '../io/index.js';

/**
 * `image` with every non-finite voxel 0, and how many there were. The same object when there are none
 * (integer types never have any); otherwise a copy, so that the caller's data (perhaps a view of its
 * request body) is left as it was.
 */
export function zeroNonFinite<V extends ImageVolume<VoxelArray>>(image: V): { image: V; count: number } {
  const { data } = image;
  if (!(data instanceof Float32Array)) return { image, count: 0 };
  let count = 0;
  // x - x is 0 for every finite x, NaN for NaN and for either infinity.
  for (let i = 0; i < data.length; i++) if (data[i] - data[i] !== 0) count++;
  if (count === 0) return { image, count };
  const clean = data.slice();
  for (let i = 0; i < clean.length; i++) if (clean[i] - clean[i] !== 0) clean[i] = 0;
  return { image: { ...image, data: clean }, count };
}

/** The warning a result carries for `count` non-finite voxels read as 0; none when there were none. */
export function nonFiniteWarnings(count: number, total: number): string[] {
  if (count === 0) return [];
  return [
    `${count} of ${total} voxels were NaN or infinite and were read as 0 (background)` +
      (count === total ? '; no voxel was left, so the label map is empty' : ''),
  ];
}
