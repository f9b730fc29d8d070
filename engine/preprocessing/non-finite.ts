/**
 * @module
 * NaN and infinite voxels. Float images often hold NaN outside a mask (FSL, ANTs and SPM write them so),
 * and a scale factor can overflow float32 to infinity. Left in, one of them spreads through the intensity
 * normalisation and the answer is an empty label map (found by review). They are read as 0, the
 * background the crop to non-zero already leaves out, and the result says how many there were.
 */
import type { ImageVolume, VoxelArray } from '../io/index.js';

/**
 * Writes 0 over every non-finite voxel of `image`, in place, and returns how many there were. In place:
 * a copy would be a float32 volume the work bounds do not count (found by review), and the readers'
 * float data is always their own array (an integer type, which never holds NaN, is the only kind kept
 * as a view of the caller's bytes).
 */
export function zeroNonFinite(image: ImageVolume<VoxelArray>): number {
  const { data } = image;
  if (!(data instanceof Float32Array)) return 0;
  let count = 0;
  // x - x is 0 for every finite x, NaN for NaN and for either infinity.
  for (let i = 0; i < data.length; i++) {
    if (data[i] - data[i] !== 0) {
      data[i] = 0;
      count++;
    }
  }
  return count;
}

/** The warning a result carries for `count` non-finite voxels read as 0; none when there were none. */
export function nonFiniteWarnings(count: number, total: number): string[] {
  if (count === 0) return [];
  return [
    `${count} of ${total} voxels were NaN or infinite and were read as 0 (background)` +
      (count === total ? '; no voxel was left, so the label map is empty' : ''),
  ];
}
