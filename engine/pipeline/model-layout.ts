/**
 * @module
 * From the model's layout back to the image: a model-layout label map (cropped to the non-zero box,
 * model axis order) gets the manifest's keep-largest and becomes the image's {@link LabelMap}, as
 * `segment()` ends (docs/nnunet-inference.md).
 */
import type { BoundingBox } from '../../wasm/src/crop.js';
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import type { Shape3 } from '../../wasm/src/shape.js';
import type { ModelManifest } from '../models/manifest.js';
import { applyKeepLargest, keepLargestPlan } from '../postprocessing/keep-largest.js';
import { LabelMap } from './label-map.js';

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

/**
 * The image's label map of model-layout `labels`, with the manifest's post-processing applied to
 * `labels` in place. Outside the crop every label is background, and full connectivity does not
 * depend on the order of the axes: the largest components of the crop are those of the image.
 */
export function layoutLabelMap(
  core: KernelCore,
  labels: Uint8Array,
  layout: ModelLayout,
  manifest: ModelManifest,
): LabelMap {
  applyKeepLargest(core, labels, layout.shape, keepLargestPlan(manifest.inference.postprocessing));
  return new LabelMap(layout.imageShape, layout.box, labels, layout.perm);
}

/** The image-geometry label map of model-layout `labels` as one array; `labels` is left as it was. */
export function labelsToImage(
  core: KernelCore,
  labels: Uint8Array,
  layout: ModelLayout,
  manifest: ModelManifest,
): Uint8Array {
  return layoutLabelMap(core, labels.slice(), layout, manifest).toArray();
}
