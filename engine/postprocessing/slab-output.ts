/**
 * @module
 * From one slab's accumulated outputs back to the cropped grid: logits (and level sets) resampled
 * with the plans' probability order, then softmax and argmax, all in the WASM kernels.
 */
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import { resampleVolume, type InterpOrder } from '../../wasm/src/resample.js';
import { argmax, softmax } from '../../wasm/src/softmax.js';

/** One slab back on the cropped grid. */
export interface SlabOutput {
  /** Label per voxel (argmax over the logits). */
  labels: Uint8Array;
  /** Softmax probabilities `[K][voxels]`. */
  probabilities: Float32Array;
  /** Level-set maps `[L][voxels]` (tanh of the signed distance, positive inside); empty when not predicted. */
  levelsets: Float32Array;
}

/**
 * Resamples `channels` planes of `[rows][cols]` to `[outRows][outCols]`, then splits the first
 * `classes` channels (logits) from the rest (level sets).
 */
export function slabOutput(
  core: KernelCore,
  stacked: Float32Array,
  channels: number,
  classes: number,
  from: [number, number],
  to: [number, number],
  order: InterpOrder,
): SlabOutput {
  const [rows, cols] = from;
  const [outRows, outCols] = to;
  const n = outRows * outCols;
  let back = stacked;
  if (rows !== outRows || cols !== outCols) {
    back = new Float32Array(channels * n);
    for (let c = 0; c < channels; c++) {
      const plane = stacked.subarray(c * rows * cols, (c + 1) * rows * cols);
      back.set(resampleVolume(core, plane, [cols, rows, 1], [outCols, outRows, 1], { order }), c * n);
    }
  }
  const logits = back.subarray(0, classes * n);
  return {
    labels: argmax(core, logits, classes),
    probabilities: softmax(core, logits, classes),
    levelsets: back.slice(classes * n),
  };
}
