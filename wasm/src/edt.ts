/**
 * @module
 * Exact Euclidean distance transform in mm (scipy.ndimage.distance_transform_edt with `sampling`) and
 * the signed distance map built from it. A mask with no voxel to measure to gives Infinity (scipy
 * returns distances to a phantom voxel outside the array instead).
 */
import type { KernelCore, KernelHeap } from './kernel-core.js';
import { checkSpacing, checkVolume, voxelCount, type Shape3, type Spacing3 } from './shape.js';

/** What the distance is measured to: see `edt_pass_x_f32`. */
export enum EdtMode {
  /** Non-zero voxels get the distance to the nearest zero voxel. */
  ToZero = 0,
  /** Zero voxels get the distance to the nearest non-zero voxel. */
  ToNonzero = 1,
  /** Positive outside (distance to foreground), negative inside (distance to background). */
  Signed = 2,
}

const BLOCK = 16;
const align16 = (b: number): number => Math.ceil(b / 16) * 16;

type PassX = (f: number, m: number, nx: number, rows: number, sx: number, mode: number) => void;
type PassAxis = (
  f: number,
  outer: number,
  outerStride: number,
  width: number,
  len: number,
  stride: number,
  spacing: number,
  signed: number,
  scratch: number,
) => void;

/**
 * Runs the transform of the u8 mask at `mask` (kernel memory) into a fresh f32 field and returns its
 * pointer. For the other wrappers of this folder; arguments must already be validated.
 */
export function edtInHeap(
  core: KernelCore,
  heap: KernelHeap,
  mask: number,
  shape: Shape3,
  spacing: Spacing3,
  mode: EdtMode,
): number {
  const [nx, ny, nz] = shape;
  const n = voxelCount(shape);
  const field = heap.alloc(n * 4);
  const len = Math.max(ny, nz);
  const envelope = align16(len * 4) + align16((len + 1) * 8) + align16(len * 8);
  const scratch = heap.alloc(align16(BLOCK * len * 4) + 2 * envelope);
  const signed = mode === EdtMode.Signed ? 1 : 0;
  core.fn<PassX>('edt_pass_x_f32')(field, mask, nx, ny * nz, spacing[0], mode);
  const axis = core.fn<PassAxis>('edt_pass_axis_f32');
  axis(field, nz, nx * ny, nx, ny, nx, spacing[1], signed, scratch);
  axis(field, ny, nx, nx, nz, nx * ny, spacing[2], signed, scratch);
  core.fn<(f: number, n: number, s: number) => void>('edt_finish_f32')(field, n, signed);
  return field;
}

function transform(
  core: KernelCore,
  mask: Uint8Array,
  shape: Shape3,
  spacing: Spacing3,
  mode: EdtMode,
): Float32Array {
  checkVolume(shape, mask, 'mask');
  checkSpacing(spacing);
  return core.run((heap) => {
    const m = heap.put(mask);
    const field = edtInHeap(core, heap, m, shape, spacing, mode);
    return heap.take(Float32Array, field, voxelCount(shape));
  });
}

/**
 * Distance in mm from every non-zero voxel to the nearest zero voxel (0 on zero voxels); Infinity
 * everywhere when the mask has no zero voxel.
 */
export function distanceTransform(
  core: KernelCore,
  mask: Uint8Array,
  shape: Shape3,
  spacing: Spacing3,
): Float32Array {
  return transform(core, mask, shape, spacing, EdtMode.ToZero);
}

/**
 * Signed distance in mm: background voxels get +distance to the nearest foreground voxel, foreground
 * voxels -distance to the nearest background voxel (never 0). An all-background mask gives +Infinity,
 * an all-foreground mask -Infinity.
 */
export function signedDistance(
  core: KernelCore,
  mask: Uint8Array,
  shape: Shape3,
  spacing: Spacing3,
): Float32Array {
  return transform(core, mask, shape, spacing, EdtMode.Signed);
}
