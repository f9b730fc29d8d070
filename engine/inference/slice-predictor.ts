/**
 * @module
 * 2D sliding-window prediction of one slice (docs/nnunet-inference.md, "Sliding window"): pad to
 * the patch (centred, zeros), tile with nnU-Net's window offsets, run each batch of tiles under
 * every mirroring combination and every fold, average, and accumulate with the Gaussian importance
 * map. Memory is bounded by one slice and one batch of tiles.
 */
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import { computeSlidingWindowSteps, PatchAccumulator } from '../../wasm/src/sliding-window.js';
import { planePixels, planeShape, samePlane, type Plane } from '../preprocessing/axes.js';
import type { InferenceRuntime } from '../runtime/runtime.js';
import { flipPlanes, mirrorCombinations } from './mirroring.js';

/** How to predict; fixed for a whole volume. */
export interface SlicePredictorOptions {
  /** The plans' patch. */
  patch: Plane;
  /** Output names to accumulate, in channel order (e.g. logits, then the level set). */
  outputs: readonly string[];
  /** Channels of each output. */
  outputChannels: readonly number[];
  /** Spatial axes to mirror (empty: no TTA). */
  mirrorAxes: readonly number[];
  /** Tiles per runtime call. */
  batch: number;
  tileStep: number;
}

/** Where a tile starts in the padded slice. */
export interface TileOrigin {
  row: number;
  col: number;
}

/** One slice cut into tiles: the padded slice and its window origins, in nnU-Net's order (rows outer). */
export interface SliceTiles {
  padded: Padded;
  tiles: TileOrigin[];
}

/** Pads `slice` to the patch and lists its sliding-window tiles. */
export function sliceTiles(slice: Float32Array, plane: Plane, patch: Plane, tileStep: number): SliceTiles {
  const padded = padCentred(slice, plane, patch);
  const [colSteps, rowSteps] = computeSlidingWindowSteps(
    planeShape(padded.plane),
    planeShape(patch),
    tileStep,
  );
  const tiles: TileOrigin[] = [];
  for (const row of rowSteps) for (const col of colSteps) tiles.push({ row, col });
  return { padded, tiles };
}

/** The network input `[tiles][patch]` of a batch of tiles of the padded slice. */
export function batchInput(padded: Padded, batch: readonly TileOrigin[], patch: Plane): Float32Array {
  const tilePixels = planePixels(patch);
  const input = new Float32Array(batch.length * tilePixels);
  batch.forEach(({ row, col }, b) => {
    for (let r = 0; r < patch.rows; r++) {
      const src = (row + r) * padded.plane.cols + col;
      input.set(padded.data.subarray(src, src + patch.cols), b * tilePixels + r * patch.cols);
    }
  });
  return input;
}

/**
 * Runs a batch through every fold under every mirroring combination, in the order the outputs are
 * summed (folds outer, flips, then outputs), and hands each raw output to `visit` with its channel
 * count, its offset in the channel stack and the flip it answers.
 */
export async function forEachOutput(
  folds: readonly InferenceRuntime[],
  flips: readonly number[][],
  options: SlicePredictorOptions,
  input: Float32Array,
  tiles: number,
  visit: (data: Float32Array, channels: number, offset: number, flip: readonly number[]) => void,
): Promise<void> {
  const { patch, outputs, outputChannels } = options;
  for (const fold of folds) {
    for (const flip of flips) {
      const x = flip.length ? flipPlanes(input, tiles, patch, flip) : input;
      const result = await fold.run(x, [tiles, 1, patch.rows, patch.cols]);
      let offset = 0;
      outputs.forEach((name, o) => {
        visit(result[name].data, outputChannels[o], offset, flip);
        offset += outputChannels[o];
      });
    }
  }
}

/** Predicts slices with a fold ensemble. */
export class SlicePredictor {
  private readonly flips: number[][];
  private readonly channels: number;

  constructor(
    private readonly core: KernelCore,
    private readonly folds: readonly InferenceRuntime[],
    private readonly options: SlicePredictorOptions,
  ) {
    this.flips = mirrorCombinations(options.mirrorAxes);
    this.channels = options.outputChannels.reduce((a, b) => a + b, 0);
  }

  /** Predicts one slice of size `plane` (row-major); resolves to `[channels]` planes of that size. */
  async predict(slice: Float32Array, plane: Plane): Promise<Float32Array> {
    const { patch } = this.options;
    const { padded, tiles } = sliceTiles(slice, plane, patch, this.options.tileStep);
    const acc = new PatchAccumulator(this.core, this.channels, planeShape(padded.plane), planeShape(patch));
    try {
      const tilePixels = planePixels(patch);
      for (let i = 0; i < tiles.length; i += this.options.batch) {
        const batch = tiles.slice(i, i + this.options.batch);
        const mean = await this.predictBatch(batchInput(padded, batch, patch), batch.length);
        const perTile = this.channels * tilePixels;
        batch.forEach(({ row, col }, b) =>
          acc.add(mean.subarray(b * perTile, (b + 1) * perTile), [col, row, 0]),
        );
      }
      return unpad(acc.finish(), this.channels, padded, plane);
    } finally {
      acc.release();
    }
  }

  /** Mean over flips and folds of the stacked outputs, `[tiles][channels][patch]`. */
  private async predictBatch(input: Float32Array, tiles: number): Promise<Float32Array> {
    const { patch } = this.options;
    const tilePixels = planePixels(patch);
    const sum = new Float32Array(tiles * this.channels * tilePixels);
    await forEachOutput(this.folds, this.flips, this.options, input, tiles, (out, k, channel, flip) => {
      const y = flip.length ? flipPlanes(out, tiles * k, patch, flip) : out;
      for (let b = 0; b < tiles; b++) {
        const dst = (b * this.channels + channel) * tilePixels;
        const src = b * k * tilePixels;
        for (let j = 0; j < k * tilePixels; j++) sum[dst + j] += y[src + j];
      }
    });
    const scale = 1 / (this.folds.length * this.flips.length);
    for (let j = 0; j < sum.length; j++) sum[j] *= scale;
    return sum;
  }
}

/** A slice padded to at least the patch, and where the original sits in it. */
export interface Padded {
  data: Float32Array;
  plane: Plane;
  top: number;
  left: number;
}

/** Pads to at least `patch`, centred (the extra pixel after), with zeros. */
function padCentred(slice: Float32Array, plane: Plane, patch: Plane): Padded {
  const padded: Plane = { rows: Math.max(plane.rows, patch.rows), cols: Math.max(plane.cols, patch.cols) };
  if (samePlane(padded, plane)) return { data: slice, plane, top: 0, left: 0 };
  const top = Math.floor((padded.rows - plane.rows) / 2);
  const left = Math.floor((padded.cols - plane.cols) / 2);
  const data = new Float32Array(planePixels(padded));
  for (let r = 0; r < plane.rows; r++) {
    data.set(slice.subarray(r * plane.cols, (r + 1) * plane.cols), (top + r) * padded.cols + left);
  }
  return { data, plane: padded, top, left };
}

/**
 * The row copies that cut `channels` planes of the padded size back to `plane`: `copy(src, dst,
 * length)` in elements, source in the padded stack, destination in the `[channels][plane]` stack.
 */
export function unpadRows(
  channels: number,
  padded: Padded,
  plane: Plane,
  copy: (src: number, dst: number, length: number) => void,
): void {
  const from = padded.plane;
  for (let c = 0; c < channels; c++) {
    for (let r = 0; r < plane.rows; r++) {
      copy(
        c * planePixels(from) + (padded.top + r) * from.cols + padded.left,
        (c * plane.rows + r) * plane.cols,
        plane.cols,
      );
    }
  }
}

/** Cuts `channels` planes of the padded size back to `plane`. */
function unpad(data: Float32Array, channels: number, padded: Padded, plane: Plane): Float32Array {
  if (samePlane(padded.plane, plane)) return data;
  const out = new Float32Array(channels * planePixels(plane));
  unpadRows(channels, padded, plane, (src, dst, length) => out.set(data.subarray(src, src + length), dst));
  return out;
}
