/**
 * @module
 * 2D sliding-window prediction of one slab (DESIGN.md §2): pad to the patch (centred, zeros), tile
 * with nnU-Net's window offsets, run each batch of tiles under every mirroring combination and every
 * fold, average, and accumulate with the Gaussian importance map. Memory is bounded by one slab and
 * one batch of tiles.
 */
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import { computeSlidingWindowSteps, PatchAccumulator } from '../../wasm/src/sliding-window.js';
import type { InferenceRuntime } from '../runtime/runtime.js';
import { flipPlanes, mirrorCombinations } from './mirroring.js';

/** How to predict; fixed for a whole volume. */
export interface SlabPredictorOptions {
  /** Patch `[rows, cols]` (the plans' patch_size). */
  patch: readonly [number, number];
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

/** Predicts slabs with a fold ensemble. */
export class SlabPredictor {
  private readonly flips: number[][];
  private readonly channels: number;

  constructor(
    private readonly core: KernelCore,
    private readonly folds: readonly InferenceRuntime[],
    private readonly options: SlabPredictorOptions,
  ) {
    this.flips = mirrorCombinations(options.mirrorAxes);
    this.channels = options.outputChannels.reduce((a, b) => a + b, 0);
  }

  /** Total output channels (all outputs stacked). */
  get outputChannelCount(): number {
    return this.channels;
  }

  /** Predicts a `[rows][cols]` slab (cols fastest); resolves to `[channels][rows][cols]`. */
  async predict(slab: Float32Array, rows: number, cols: number): Promise<Float32Array> {
    const [pr, pc] = this.options.patch;
    const padded = padCentred(slab, rows, cols, pr, pc);
    const { rows: R, cols: C } = padded;
    const steps = computeSlidingWindowSteps([C, R, 1], [pc, pr, 1], this.options.tileStep);
    const tiles: [number, number][] = [];
    for (const y of steps[1]) for (const x of steps[0]) tiles.push([y, x]);
    const acc = new PatchAccumulator(this.core, this.channels, [C, R, 1], [pc, pr, 1]);
    const tileSize = pr * pc;
    for (let i = 0; i < tiles.length; i += this.options.batch) {
      const chunk = tiles.slice(i, i + this.options.batch);
      const input = new Float32Array(chunk.length * tileSize);
      chunk.forEach(([y, x], b) => {
        for (let r = 0; r < pr; r++) {
          const src = (y + r) * C + x;
          input.set(padded.data.subarray(src, src + pc), b * tileSize + r * pc);
        }
      });
      const mean = await this.predictBatch(input, chunk.length);
      const per = this.channels * tileSize;
      chunk.forEach(([y, x], b) => acc.add(mean.subarray(b * per, (b + 1) * per), [x, y, 0]));
    }
    return unpad(acc.finish(), this.channels, R, C, padded.top, padded.left, rows, cols);
  }

  /** Mean over flips and folds of the stacked outputs, `[B][channels][patch]`. */
  private async predictBatch(input: Float32Array, n: number): Promise<Float32Array> {
    const [pr, pc] = this.options.patch;
    const { outputs, outputChannels } = this.options;
    const tileSize = pr * pc;
    const sum = new Float32Array(n * this.channels * tileSize);
    for (const fold of this.folds) {
      for (const flip of this.flips) {
        const x = flip.length ? flipPlanes(input, n, pr, pc, flip) : input;
        const result = await fold.run(x, [n, 1, pr, pc]);
        let offset = 0;
        outputs.forEach((name, o) => {
          const k = outputChannels[o];
          const out = result[name].data;
          const y = flip.length ? flipPlanes(out, n * k, pr, pc, flip) : out;
          for (let b = 0; b < n; b++) {
            const dst = (b * this.channels + offset) * tileSize;
            const src = b * k * tileSize;
            for (let j = 0; j < k * tileSize; j++) sum[dst + j] += y[src + j];
          }
          offset += k;
        });
      }
    }
    const scale = 1 / (this.folds.length * this.flips.length);
    for (let j = 0; j < sum.length; j++) sum[j] *= scale;
    return sum;
  }
}

interface Padded {
  data: Float32Array;
  rows: number;
  cols: number;
  top: number;
  left: number;
}

/** Pads to at least `pr x pc`, centred (the extra voxel after), with zeros. */
function padCentred(slab: Float32Array, rows: number, cols: number, pr: number, pc: number): Padded {
  const R = Math.max(rows, pr);
  const C = Math.max(cols, pc);
  if (R === rows && C === cols) return { data: slab, rows, cols, top: 0, left: 0 };
  const top = Math.floor((R - rows) / 2);
  const left = Math.floor((C - cols) / 2);
  const data = new Float32Array(R * C);
  for (let r = 0; r < rows; r++) data.set(slab.subarray(r * cols, (r + 1) * cols), (top + r) * C + left);
  return { data, rows: R, cols: C, top, left };
}

function unpad(
  data: Float32Array,
  channels: number,
  R: number,
  C: number,
  top: number,
  left: number,
  rows: number,
  cols: number,
): Float32Array {
  if (R === rows && C === cols) return data;
  const out = new Float32Array(channels * rows * cols);
  for (let c = 0; c < channels; c++) {
    for (let r = 0; r < rows; r++) {
      const src = c * R * C + (top + r) * C + left;
      out.set(data.subarray(src, src + cols), (c * rows + r) * cols);
    }
  }
  return out;
}
