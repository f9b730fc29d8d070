/**
 * @module
 * Geometry of derived images. Pass the returned `shape`/`affine` to `writeNifti`, which writes the
 * affine into the sform and a matching qform (so both stay consistent).
 */
import { InputError } from '../errors.js';
import { matmul4 } from './affine.js';
import type { Geometry, ImageVolume, Shape3 } from './image.js';

type Box = { start: [number, number, number]; end: [number, number, number] };

function isIndexTriple(v: unknown): v is [number, number, number] {
  return Array.isArray(v) && v.length === 3 && v.every((n) => Number.isSafeInteger(n));
}

/**
 * Geometry of `image` cropped to the half-open voxel box `[start, end)`: same spacing, the affine
 * origin moved to voxel `start`.
 */
export function cropGeometry(image: Pick<ImageVolume, 'shape' | 'spacing' | 'affine'>, box: Box): Geometry {
  const { start, end } = box ?? ({} as Box);
  if (!isIndexTriple(start) || !isIndexTriple(end)) {
    throw new InputError('bad_crop_box', 'crop box needs integer start and end triples');
  }
  for (let i = 0; i < 3; i++) {
    if (start[i] < 0 || end[i] > image.shape[i] || start[i] >= end[i]) {
      throw new InputError(
        'bad_crop_box',
        `crop box [${start}]..[${end}] is empty or outside the volume [${image.shape}] on axis ${i}`,
      );
    }
  }
  const shift = [
    [1, 0, 0, start[0]],
    [0, 1, 0, start[1]],
    [0, 0, 1, start[2]],
    [0, 0, 0, 1],
  ];
  return {
    shape: [end[0] - start[0], end[1] - start[1], end[2] - start[2]],
    spacing: [...image.spacing],
    affine: matmul4(image.affine, shift),
  };
}

/**
 * Geometry of `image` resampled to `newShape` with grid-centred semantics (skimage `resize`,
 * nnU-Net): output voxel o's centre is input coordinate (o + 0.5)·s − 0.5 with s = in/out per
 * axis, so the affine becomes A · [diag(s) | 0.5·s − 0.5] and the spacing old·s.
 */
export function resampleGeometry(
  image: Pick<ImageVolume, 'shape' | 'spacing' | 'affine'>,
  newShape: Shape3,
): Geometry {
  if (!isIndexTriple(newShape) || newShape.some((n) => n < 1)) {
    throw new InputError(
      'bad_shape',
      `new shape must be 3 positive integers, got ${JSON.stringify(newShape)}`,
    );
  }
  const s = newShape.map((n, i) => image.shape[i] / n);
  const scale = [
    [s[0], 0, 0, 0.5 * s[0] - 0.5],
    [0, s[1], 0, 0.5 * s[1] - 0.5],
    [0, 0, s[2], 0.5 * s[2] - 0.5],
    [0, 0, 0, 1],
  ];
  return {
    shape: [...newShape],
    spacing: [image.spacing[0] * s[0], image.spacing[1] * s[1], image.spacing[2] * s[2]],
    affine: matmul4(image.affine, scale),
  };
}
