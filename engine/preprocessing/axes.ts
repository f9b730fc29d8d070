/**
 * @module
 * Axis order between the image (`[nx, ny, nz]`, x fastest) and the array the model was trained on,
 * and the one name for a 2D plane's size (docs/nnunet-inference.md, "Axes in this engine").
 *
 * `training/` (the reference) works on the nibabel array `A[x, y, z]` (C-order, z fastest) after
 * `transpose_forward`, and a 2D configuration slices along A's first axis. The same bytes in the
 * kernels' fastest-first convention are a volume of shape `[s2, s1, s0]`: the slicing axis is
 * the slowest, so every slice is one contiguous plane.
 */
import type { Shape3 } from '../../wasm/src/shape.js';

/**
 * The size of a 2D plane: a slice of the model-layout volume, a patch, a padded slice. In memory a
 * plane is row-major (`cols` fastest), numpy's `(rows, cols)`; the kernels, which take shapes
 * fastest-first, see it as `[cols, rows, 1]` ({@link planeShape}).
 */
export interface Plane {
  readonly rows: number;
  readonly cols: number;
}

/** A plane from nnU-Net's `(rows, cols)` order, as the plans write `patch_size`. */
export function planeOf(rowsCols: readonly number[]): Plane {
  return { rows: rowsCols[0], cols: rowsCols[1] };
}

/** The plane as the kernels' fastest-first shape. */
export function planeShape(plane: Plane): Shape3 {
  return [plane.cols, plane.rows, 1];
}

/** Pixels in the plane. */
export function planePixels(plane: Plane): number {
  return plane.rows * plane.cols;
}

/** Whether two planes have the same size. */
export function samePlane(a: Plane, b: Plane): boolean {
  return a.rows === b.rows && a.cols === b.cols;
}

/** Axis `a` of the result is axis `perm[a]` of the input (both fastest-first). */
export function permute3<T extends Float32Array | Uint8Array>(
  data: T,
  shape: Shape3,
  perm: readonly number[],
): T {
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const outShape = perm.map((p) => shape[p]);
  const stride = [1, shape[0], shape[0] * shape[1]];
  const [s0, s1, s2] = perm.map((p) => stride[p]);
  const [n0, n1, n2] = outShape;
  let o = 0;
  for (let k = 0; k < n2; k++) {
    for (let j = 0; j < n1; j++) {
      let i = k * s2 + j * s1;
      for (let a = 0; a < n0; a++, i += s0) out[o++] = data[i];
    }
  }
  return out;
}

/** The inverse of a permutation. */
export function invertPermutation(perm: readonly number[]): number[] {
  const inv = [0, 0, 0];
  perm.forEach((p, a) => (inv[p] = a));
  return inv;
}

/**
 * The array a model was trained on, before `transpose_forward`: `nibabel` is `A[x, y, z]` as
 * training/ reads it; `nnunet` is `A[z, y, x]`, what nnU-Net's NibabelIO / SimpleITK readers give
 * (so an imported official model slices along z where ours slice along x).
 */
export type ArrayAxes = 'nibabel' | 'nnunet';

/**
 * Permutation from the image layout to the model layout for `transposeForward` applied to the
 * `arrayAxes` array (see the module notes). A 2D image (`nz` = 1: PNG, JPEG, one DICOM slice) is
 * one slice, as nnU-Net's 2D image reader gives it (`(1, rows, cols)`): its layout is kept.
 */
export function modelAxes(
  transposeForward: readonly number[],
  shape: readonly number[],
  arrayAxes: ArrayAxes = 'nibabel',
): [number, number, number] {
  if (shape[2] === 1) return [0, 1, 2];
  // Axis a of the transposed array is axis tf[a] of the read array, i.e. nibabel axis 2 - tf[a] for nnunet.
  const onNibabel = arrayAxes === 'nnunet' ? transposeForward.map((t) => 2 - t) : transposeForward;
  return [onNibabel[2], onNibabel[1], onNibabel[0]];
}

/** `values` (one per image axis) reordered by `perm`. */
export function permuteTuple(values: readonly number[], perm: readonly number[]): [number, number, number] {
  return [values[perm[0]], values[perm[1]], values[perm[2]]];
}
