/**
 * @module
 * nnU-Net preprocessing up to the per-slice resampling (docs/nnunet-inference.md): crop to the hole-filled
 * non-zero mask, normalise per the plans, then reorder into the model's axis order. Cropping and
 * normalising do not depend on axis order, so they run first, on the image's own layout, and only
 * the (smaller) cropped volume is transposed.
 */
import { cropToNonzero, type BoundingBox } from '../../wasm/src/crop.js';
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import { ctNormalize, zscoreNormalize } from '../../wasm/src/normalize.js';
import type { Shape3 } from '../../wasm/src/shape.js';
import { UnsupportedError } from '../errors.js';
import type { ModelManifest } from '../models/manifest.js';
import { modelAxes, permute3, permuteTuple } from './axes.js';

/** The preprocessed volume in model axis order, before resampling. */
export interface Preprocessed {
  /** Crop box in the image (`[nx, ny, nz]`). */
  box: BoundingBox;
  /** Shape of the crop in image axis order. */
  cropShape: Shape3;
  /** Permutation from image axes to model axes. */
  perm: [number, number, number];
  /** Normalised crop in model axis order, shape {@link shape}; the last (slowest) axis is the slicing axis. */
  data: Float32Array;
  shape: Shape3;
  /** Spacing in model axis order (mm). */
  spacing: [number, number, number];
}

/** Crops, normalises and reorders a single-channel image for `manifest`'s 2D configuration. */
export function preprocess(
  core: KernelCore,
  data: Float32Array,
  shape: Shape3,
  spacing: readonly number[],
  manifest: ModelManifest,
): Preprocessed {
  const plans = manifest.plans;
  const crop = cropToNonzero(core, [data], shape);
  const scheme = plans.normalization_schemes[0];
  const mask = plans.use_mask_for_norm[0] ? crop.mask : undefined;
  let normalised: Float32Array;
  if (scheme === 'ZScoreNormalization') normalised = zscoreNormalize(core, crop.channels[0], mask);
  else if (scheme === 'CTNormalization') {
    const p = plans.foreground_intensity_properties_per_channel['0'];
    normalised = ctNormalize(core, crop.channels[0], {
      mean: p.mean,
      std: p.std,
      p00_5: p.percentile_00_5,
      p99_5: p.percentile_99_5,
    });
  } else if (scheme === 'NoNormalization') normalised = crop.channels[0];
  else
    throw new UnsupportedError(
      'unsupported_normalization',
      `normalisation scheme ${scheme} is not supported`,
    );
  const perm = modelAxes(plans.transpose_forward, shape, manifest.inference.array_axes ?? 'nibabel');
  return {
    box: crop.box,
    cropShape: crop.shape,
    perm,
    data: permute3(normalised, crop.shape, perm),
    shape: permuteTuple(crop.shape, perm),
    spacing: permuteTuple(spacing, perm),
  };
}
