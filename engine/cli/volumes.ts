import { InputError } from '../errors.js';
import type { ImageVolume } from '../io/index.js';

/** The 0/1 mask of the non-zero voxels of an image. */
export function maskOf(image: ImageVolume): Uint8Array {
  const out = new Uint8Array(image.data.length);
  for (let i = 0; i < out.length; i++) out[i] = image.data[i] !== 0 ? 1 : 0;
  return out;
}

/** The image as integer labels; refuses non-integer or out-of-range values. */
export function labelsOf(image: ImageVolume, what: string): Int32Array {
  const out = new Int32Array(image.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = image.data[i];
    if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) {
      throw new InputError(
        'not_a_label_map',
        `${what} holds ${v} at voxel ${i}: a label map needs integer values`,
      );
    }
    out[i] = v;
  }
  return out;
}

/** Refuses a multi-channel image where a command works on one volume. */
export function requireSingleChannel(image: ImageVolume, what: string): void {
  if ((image.channels ?? 1) !== 1) {
    throw new InputError('multi_channel', `${what} has ${image.channels} channels; this command takes one`);
  }
}

/** Integer NIfTI datatype wide enough for labels in [min, max]. */
export function labelDatatype(labels: ArrayLike<number>): 'uint8' | 'uint16' | 'int16' | 'int32' {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] < lo) lo = labels[i];
    if (labels[i] > hi) hi = labels[i];
  }
  if (lo >= 0 && hi <= 255) return 'uint8';
  if (lo >= 0 && hi <= 65535) return 'uint16';
  if (lo >= -32768 && hi <= 32767) return 'int16';
  return 'int32';
}
