/**
 * @module
 * From the model's layout back to the image: a model-layout label map (cropped to the non-zero box,
 * model axis order) is transposed back, pasted into the full image and post-processed with the
 * manifest's keep-largest, as `segment()` ends (docs/nnunet-inference.md).
 */
import { pasteCrop, type BoundingBox } from '../../wasm/src/crop.js';
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import type { Shape3 } from '../../wasm/src/shape.js';
import type { ModelManifest } from '../models/manifest.js';
import { applyKeepLargest, keepLargestPlan } from '../postprocessing/keep-largest.js';
import { invertPermutation, permute3 } from '../preprocessing/axes.js';

/** Where the model's layout sits in the image. */
export interface ModelLayout {
  /** Shape in model axis order. */
  shape: Shape3;
  /** Permutation from image axes to model axes. */
  perm: [number, number, number];
  /** Crop box in the image. */
  box: BoundingBox;
  imageShape: Shape3;
}

/** The image-geometry label map of model-layout `labels`, with the manifest's post-processing applied. */
export function labelsToImage(
  core: KernelCore,
  labels: Uint8Array,
  layout: ModelLayout,
  manifest: ModelManifest,
): Uint8Array {
  const out = new Uint8Array(layout.imageShape[0] * layout.imageShape[1] * layout.imageShape[2]);
  pasteCrop(
    out,
    layout.imageShape,
    permute3(labels, layout.shape, invertPermutation(layout.perm)),
    layout.box,
  );
  applyKeepLargest(core, out, layout.imageShape, keepLargestPlan(manifest.inference.postprocessing));
  return out;
}
