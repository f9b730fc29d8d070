/**
 * @module
 * nnU-Net preprocessing up to the per-slice resampling (docs/nnunet-inference.md): crop to the hole-filled
 * non-zero mask, normalise per the plans, then hand out the slices in the model's axis order.
 * Cropping and normalising do not depend on axis order, so they run on the image's own layout.
 *
 * Memory (docs/nnunet-inference.md, "Memory"): the input stays in its stored type and is never
 * widened whole. Only the crop is converted to float32, straight into kernel memory, normalised
 * there in place, and each slice is gathered from it in model order when the pipeline asks for it,
 * so there is neither a float32 copy of the whole image nor a transposed copy of the crop.
 */
import type { BoundingBox } from '../../wasm/src/crop.js';
import type { KernelCore, KernelLease } from '../../wasm/src/kernel-core.js';
import { ctNormalizeLeased, zscoreNormalizeLeased } from '../../wasm/src/normalize.js';
import { voxelCount, type Shape3 } from '../../wasm/src/shape.js';
import { UnsupportedError } from '../errors.js';
import type { VoxelArray } from '../io/index.js';
import type { ModelManifest } from '../models/manifest.js';
import { modelAxes, permuteTuple } from './axes.js';

/** The preprocessed volume: the normalised crop, read slice by slice in model axis order. */
export interface Preprocessed {
  /** Crop box in the image (`[nx, ny, nz]`). */
  box: BoundingBox;
  /** Shape of the crop in image axis order. */
  cropShape: Shape3;
  /** Permutation from image axes to model axes. */
  perm: [number, number, number];
  /** Shape of the crop in model axis order; the last (slowest) axis is the slicing axis. */
  shape: Shape3;
  /** Spacing in model axis order (mm). */
  spacing: [number, number, number];
  /** Slice `s` of the model-order crop: `shape[1]` rows of `shape[0]` columns, a fresh array. */
  slice(s: number): Float32Array;
  /** Gives the crop's kernel memory back; {@link slice} throws afterwards. */
  release(): void;
}

/**
 * Crops, normalises and prepares the slices of a single-channel image for `manifest`'s 2D
 * configuration. The result holds kernel memory (the normalised crop) until it is released.
 */
export function preprocess(
  core: KernelCore,
  data: VoxelArray,
  shape: Shape3,
  spacing: readonly number[],
  manifest: ModelManifest,
): Preprocessed {
  const plans = manifest.plans;
  const scheme = plans.normalization_schemes[0];
  if (!['ZScoreNormalization', 'CTNormalization', 'NoNormalization'].includes(scheme)) {
    throw new UnsupportedError(
      'unsupported_normalization',
      `normalisation scheme ${scheme} is not supported`,
    );
  }
  const found = nonzeroBox(data, shape);
  // An image with no non-zero voxel is kept whole, with an empty mask (nnU-Net's crop_to_nonzero).
  const box = found ?? { start: [0, 0, 0], end: [shape[0], shape[1], shape[2]] };
  const cropShape: Shape3 = [box.end[0] - box.start[0], box.end[1] - box.start[1], box.end[2] - box.start[2]];
  const n = voxelCount(cropShape);
  // nnU-Net's use_mask_for_norm: only the crop mask's voxels set and take the normalisation.
  let normMask: Uint8Array | undefined;
  if (plans.use_mask_for_norm[0]) normMask = found ? filledMask(core, data, shape, box) : new Uint8Array(n);

  const volume = core.lease(n * 4);
  try {
    copyCrop(data, shape, box, volume.view(Float32Array, 0, n));
    if (scheme === 'ZScoreNormalization') zscoreNormalizeLeased(core, volume, n, normMask);
    else if (scheme === 'CTNormalization') {
      const p = plans.foreground_intensity_properties_per_channel['0'];
      const stats = { mean: p.mean, std: p.std, p00_5: p.percentile_00_5, p99_5: p.percentile_99_5 };
      ctNormalizeLeased(core, volume, n, stats, normMask);
    }
  } catch (err) {
    volume.release();
    throw err;
  }
  const perm = modelAxes(plans.transpose_forward, shape, manifest.inference.array_axes ?? 'nibabel');
  const modelShape = permuteTuple(cropShape, perm);
  return {
    box,
    cropShape,
    perm,
    shape: modelShape,
    spacing: permuteTuple(spacing, perm),
    slice: (s) => gatherSlice(volume, cropShape, perm, s),
    release: () => volume.release(),
  };
}

/**
 * The half-open box of the non-zero voxels (null when there are none). It is also the box of the
 * hole-filled mask: a zero voxel outside it reaches the volume's face in a straight line, so
 * filling holes never adds one.
 */
export function nonzeroBox(data: VoxelArray, shape: Shape3): BoundingBox | null {
  const [nx, ny, nz] = shape;
  let x0 = nx;
  let x1 = -1;
  let y0 = ny;
  let y1 = -1;
  let z0 = nz;
  let z1 = -1;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const row = (z * ny + y) * nx;
      let first = 0;
      while (first < nx && data[row + first] === 0) first++;
      if (first === nx) continue;
      let last = nx - 1;
      while (data[row + last] === 0) last--;
      if (first < x0) x0 = first;
      if (last > x1) x1 = last;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      if (z < z0) z0 = z;
      z1 = z;
    }
  }
  if (x1 < 0) return null;
  return { start: [x0, y0, z0], end: [x1 + 1, y1 + 1, z1 + 1] };
}

/**
 * nnU-Net's crop mask inside `box`: non-zero voxels with their holes filled
 * (`binary_fill_holes`). The fill runs on the box instead of the whole volume: a zero voxel on the
 * box's face touches the zeros outside it, which reach the volume's face, so it seeds the fill
 * either way, and kernel memory is sized by the crop, not the image.
 */
export function filledMask(core: KernelCore, data: VoxelArray, shape: Shape3, box: BoundingBox): Uint8Array {
  const [nx, ny] = shape;
  const [x0, y0, z0] = box.start;
  const [x1, y1, z1] = box.end;
  const n = (x1 - x0) * (y1 - y0) * (z1 - z0);
  return core.run((heap) => {
    const maskPtr = heap.alloc(n);
    const queue = heap.alloc(n * 4);
    const mask = heap.view(Uint8Array, maskPtr, n);
    let o = 0;
    for (let z = z0; z < z1; z++) {
      for (let y = y0; y < y1; y++) {
        const row = (z * ny + y) * nx;
        for (let x = x0; x < x1; x++) mask[o++] = data[row + x] !== 0 ? 1 : 0;
      }
    }
    core.fn<(m: number, x: number, y: number, z: number, q: number) => void>('fill_holes_u8')(
      maskPtr,
      x1 - x0,
      y1 - y0,
      z1 - z0,
      queue,
    );
    return heap.take(Uint8Array, maskPtr, n);
  });
}

/** Copies `box` of `data` into `out` as float32, row by row (the same values a float32 decode gives). */
function copyCrop(data: VoxelArray, shape: Shape3, box: BoundingBox, out: Float32Array): void {
  const [nx, ny] = shape;
  const [x0, y0, z0] = box.start;
  const [x1, y1, z1] = box.end;
  let o = 0;
  for (let z = z0; z < z1; z++) {
    for (let y = y0; y < y1; y++) {
      const row = (z * ny + y) * nx;
      out.set(data.subarray(row + x0, row + x1), o);
      o += x1 - x0;
    }
  }
}

/** Slice `s` along model axis 2 of the image-order crop in `volume`: model axis `a` is image axis `perm[a]`. */
function gatherSlice(
  volume: KernelLease,
  cropShape: Shape3,
  perm: readonly number[],
  s: number,
): Float32Array {
  const n = voxelCount(cropShape);
  const data = volume.view(Float32Array, 0, n);
  const stride = [1, cropShape[0], cropShape[0] * cropShape[1]];
  const [s0, s1, s2] = perm.map((p) => stride[p]);
  const [cols, rows, slices] = perm.map((p) => cropShape[p]);
  if (!(Number.isInteger(s) && s >= 0 && s < slices))
    throw new RangeError(`slice ${s} is outside 0..${slices - 1}`);
  const out = new Float32Array(cols * rows);
  let o = 0;
  for (let r = 0; r < rows; r++) {
    let i = s * s2 + r * s1;
    for (let c = 0; c < cols; c++, i += s0) out[o++] = data[i];
  }
  return out;
}
