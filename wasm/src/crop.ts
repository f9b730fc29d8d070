/**
 * @module
 * Crop to non-zero with nnU-Net semantics: the bounding box of the hole-filled non-zero mask.
 */
import type { KernelCore } from './kernel-core.js';
import { checkVolume, voxelCount, type Shape3 } from './shape.js';

/** Half-open voxel box `[start, end)` per axis, in NIfTI axis order. */
export interface BoundingBox {
  start: [number, number, number];
  end: [number, number, number];
}

/** The hole-filled non-zero mask (0/1) of one or more channels of equal `shape`. */
export function nonzeroMask(core: KernelCore, channels: readonly Float32Array[], shape: Shape3): Uint8Array {
  if (channels.length === 0) throw new RangeError('nonzeroMask needs at least one channel');
  channels.forEach((c, i) => checkVolume(shape, c, `channel ${i}`));
  const n = voxelCount(shape);
  return core.run((heap) => {
    const data = heap.alloc(n * 4 * channels.length);
    channels.forEach((c, i) => heap.view(Float32Array, data + i * n * 4, n).set(c));
    const mask = heap.alloc(n);
    const queue = heap.alloc(n * 4);
    core.fn<(o: number, d: number, n: number, c: number) => void>('nonzero_mask_f32')(
      mask,
      data,
      n,
      channels.length,
    );
    core.fn<(m: number, x: number, y: number, z: number, q: number) => void>('fill_holes_u8')(
      mask,
      shape[0],
      shape[1],
      shape[2],
      queue,
    );
    return heap.take(Uint8Array, mask, n);
  });
}

/** Bounding box of the non-zero voxels of `mask`; `null` when the mask is empty. */
export function boundingBox(core: KernelCore, mask: Uint8Array, shape: Shape3): BoundingBox | null {
  checkVolume(shape, mask, 'mask');
  const b = core.run((heap) => {
    const m = heap.put(mask);
    const out = heap.alloc(24);
    core.fn<(o: number, m: number, x: number, y: number, z: number) => void>('bbox_u8')(
      out,
      m,
      shape[0],
      shape[1],
      shape[2],
    );
    return heap.take(Int32Array, out, 6);
  });
  if (b[1] === 0) return null;
  return { start: [b[0], b[2], b[4]], end: [b[1], b[3], b[5]] };
}

/** Copies the `box` region out of a volume of `shape` (row copies; no kernel needed). */
export function cropVolume<T extends Float32Array | Uint8Array | Int16Array | Int32Array>(
  data: T,
  shape: Shape3,
  box: BoundingBox,
): T {
  const [nx, ny] = shape;
  const [x0, y0, z0] = box.start;
  const [x1, y1, z1] = box.end;
  const w = x1 - x0;
  const out = new (data.constructor as new (n: number) => T)(w * (y1 - y0) * (z1 - z0));
  let o = 0;
  for (let z = z0; z < z1; z++) {
    for (let y = y0; y < y1; y++) {
      const row = (z * ny + y) * nx;
      out.set(data.subarray(row + x0, row + x1), o);
      o += w;
    }
  }
  return out;
}

/** Copies a cropped volume into `full` (of `shape`) at `box`: the inverse of {@link cropVolume}. */
export function pasteCrop<T extends Uint8Array | Float32Array>(
  full: T,
  shape: Shape3,
  crop: T,
  box: BoundingBox,
): void {
  const [nx, ny] = shape;
  const [x0, y0, z0] = box.start;
  const [x1, y1, z1] = box.end;
  const w = x1 - x0;
  let o = 0;
  for (let z = z0; z < z1; z++) {
    for (let y = y0; y < y1; y++) {
      full.set(crop.subarray(o, o + w), (z * ny + y) * nx + x0);
      o += w;
    }
  }
}

/** Result of {@link cropToNonzero}. */
export interface CropResult {
  /** Box in the input volume; the whole volume when it is all zero. */
  box: BoundingBox;
  /** Shape of the cropped volume. */
  shape: Shape3;
  /** Cropped channels. */
  channels: Float32Array[];
  /** Cropped hole-filled non-zero mask (nnU-Net's mask for `use_mask_for_norm`). */
  mask: Uint8Array;
}

/** nnU-Net's `crop_to_nonzero`: crops every channel to the box of their hole-filled non-zero mask. */
export function cropToNonzero(
  core: KernelCore,
  channels: readonly Float32Array[],
  shape: Shape3,
): CropResult {
  const mask = nonzeroMask(core, channels, shape);
  const box = boundingBox(core, mask, shape) ?? { start: [0, 0, 0], end: [shape[0], shape[1], shape[2]] };
  const cropShape: Shape3 = [box.end[0] - box.start[0], box.end[1] - box.start[1], box.end[2] - box.start[2]];
  return {
    box,
    shape: cropShape,
    channels: channels.map((c) => cropVolume(c, shape, box)),
    mask: cropVolume(mask, shape, box),
  };
}
