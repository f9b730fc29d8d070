import { KernelArgumentError } from './kernel-errors.js';

/**
 * Volume shape in NIfTI axis order `[ni, nj, nk]`: `i` varies fastest in memory. A 2D image is
 * `[w, h, 1]`. This is numpy's C-order `(z, y, x)` array, the layout nnU-Net works in.
 */
export type Shape3 = readonly [number, number, number];
/** Voxel spacing in mm, in the same axis order as {@link Shape3}. */
export type Spacing3 = readonly [number, number, number];

/** Number of voxels of `shape`. */
export function voxelCount(shape: Shape3): number {
  return shape[0] * shape[1] * shape[2];
}

/** Throws unless `shape` holds positive integers and `data` has exactly that many elements. */
export function checkVolume(shape: Shape3, data: ArrayLike<number>, what = 'volume'): void {
  if (shape.length !== 3 || !shape.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new KernelArgumentError(
      'kernel_shape',
      `${what} shape must be three positive integers, got [${shape.join(', ')}]`,
    );
  }
  if (data.length !== voxelCount(shape)) {
    throw new KernelArgumentError(
      'kernel_shape',
      `${what} has ${data.length} elements but shape [${shape.join(', ')}] needs ${voxelCount(shape)}`,
    );
  }
}

/** Throws unless every spacing is finite and positive. */
export function checkSpacing(spacing: Spacing3, what = 'spacing'): void {
  if (spacing.length !== 3 || !spacing.every((s) => Number.isFinite(s) && s > 0)) {
    throw new KernelArgumentError(
      'kernel_spacing',
      `${what} must be three positive numbers, got [${spacing.join(', ')}]`,
    );
  }
}
