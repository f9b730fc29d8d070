/**
 * @module
 * From one slice's accumulated outputs back to the cropped grid: logits (and level sets) resampled
 * with the plans' probability order, then argmax, and softmax when something reads probabilities;
 * all in the WASM kernels.
 */
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import { resampleVolume, type InterpOrder } from '../../wasm/src/resample.js';
import { argmax, softmax } from '../../wasm/src/softmax.js';
import { planePixels, planeShape, samePlane, type Plane } from '../preprocessing/axes.js';

/** One slice back on the cropped grid. */
export interface SliceOutput {
  /** Label per pixel (argmax over the logits). */
  labels: Uint8Array;
  /** Softmax probabilities `[K][pixels]`, when asked for. */
  probabilities?: Float32Array;
  /** Level-set maps `[L][pixels]` (tanh of the signed distance, positive inside); empty when not predicted. */
  levelsets: Float32Array;
}

/** What {@link sliceOutput} does with `stacked`. */
export interface SliceOutputOptions {
  /** Channels stacked: `classes` logits, then level sets. */
  channels: number;
  classes: number;
  /** The plane the outputs were predicted on, and the one to resample them to. */
  from: Plane;
  to: Plane;
  order: InterpOrder;
  /**
   * Whether to compute the softmax. Labels need only the argmax (softmax is monotonic), so it is
   * skipped unless probabilities are returned or refinement fuses them with the level set.
   */
  probabilities: boolean;
}

/** Resamples the stacked planes from `from` to `to`, then splits logits from level sets. */
export function sliceOutput(
  core: KernelCore,
  stacked: Float32Array,
  options: SliceOutputOptions,
): SliceOutput {
  const { channels, classes, from, to, order } = options;
  const n = planePixels(to);
  let back = stacked;
  if (!samePlane(from, to)) {
    back = new Float32Array(channels * n);
    const m = planePixels(from);
    for (let c = 0; c < channels; c++) {
      const plane = stacked.subarray(c * m, (c + 1) * m);
      back.set(resampleVolume(core, plane, planeShape(from), planeShape(to), { order }), c * n);
    }
  }
  const logits = back.subarray(0, classes * n);
  return {
    labels: argmax(core, logits, classes),
    probabilities: options.probabilities ? softmax(core, logits, classes) : undefined,
    levelsets: back.slice(classes * n),
  };
}
