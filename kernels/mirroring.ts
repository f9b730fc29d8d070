/**
 * @module
 * Mirroring test-time augmentation on the GPU, the twin of `engine/inference/mirroring.ts` and of
 * the sum in `engine/inference/slice-predictor.ts`: flip a batch of network inputs, un-flip every
 * output and add it into one channel stack, then take the mean over folds and flips.
 */
import type { Plane } from '../engine/preprocessing/axes.js';
import { GpuKernelError, type GpuKernels } from './gpu-core.js';

/** Flip bits of the shader: 1 = rows (spatial axis 0), 2 = columns (spatial axis 1). */
function flipBits(axes: readonly number[]): number {
  if (!axes.every((a) => a === 0 || a === 1)) {
    throw new GpuKernelError(
      'gpu_argument',
      `mirror axes must be 0 (rows) or 1 (columns), got [${axes.join(', ')}]`,
    );
  }
  return (axes.includes(0) ? 1 : 0) | (axes.includes(1) ? 2 : 0);
}

function checkDims(dims: readonly number[]): void {
  if (!dims.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new GpuKernelError('gpu_shape', `dimensions must be positive integers, got [${dims.join(', ')}]`);
  }
}

/** Flips `planes` row-major planes of size `plane` along `axes` into a new buffer. */
export function flipPlanesGpu(
  k: GpuKernels,
  src: GPUBuffer,
  planes: number,
  plane: Plane,
  axes: readonly number[],
): GPUBuffer {
  const { rows, cols } = plane;
  checkDims([planes, rows, cols]);
  const out = k.buffer(planes * rows * cols * 4, 'flipped');
  const u32 = [planes, rows, cols, flipBits(axes), 1, 1, 0, 0];
  k.dispatch('mirroring', 'flip_planes', { u32, f32: [0] }, { 1: src, 2: out }, planes * rows * cols);
  return out;
}

/**
 * The mean over folds and flips of network outputs, `[batch][stack]` planes: every output is
 * un-flipped and added at its channel offset of the stack, in call order (as the CPU path sums).
 */
export class MirrorSum {
  /** The sum, then (after {@link mean}) the mean. */
  readonly buffer: GPUBuffer;
  private readonly adds = new Map<number, number>();
  private readonly rows: number;
  private readonly cols: number;
  private done = false;

  constructor(
    private readonly k: GpuKernels,
    private readonly batch: number,
    private readonly stack: number,
    plane: Plane,
  ) {
    ({ rows: this.rows, cols: this.cols } = plane);
    checkDims([batch, stack, this.rows, this.cols]);
    this.buffer = k.buffer(batch * stack * this.rows * this.cols * 4, 'mirror-sum');
  }

  /**
   * Adds `output` (`[batch][channels][rows][cols]`, the network's answer to the input flipped along
   * `axes`) flipped back, into stack channels `offset .. offset + channels`.
   */
  add(output: GPUBuffer, channels: number, offset: number, axes: readonly number[]): void {
    if (this.done) throw new GpuKernelError('gpu_argument', 'MirrorSum.add after mean');
    checkDims([channels, offset + 1]);
    if (offset + channels > this.stack) {
      throw new GpuKernelError(
        'gpu_shape',
        `channels ${offset}..${offset + channels} exceed the stack of ${this.stack}`,
      );
    }
    const { batch, rows, cols, stack } = this;
    if (output.size < batch * channels * rows * cols * 4) {
      throw new GpuKernelError(
        'gpu_argument',
        `output must hold ${batch} x ${channels} x ${rows} x ${cols} values`,
      );
    }
    const u32 = [batch * channels, rows, cols, flipBits(axes), channels, stack, offset, 1];
    this.k.dispatch(
      'mirroring',
      'flip_planes',
      { u32, f32: [0] },
      { 1: output, 2: this.buffer },
      batch * channels * rows * cols,
    );
    for (let c = offset; c < offset + channels; c++) this.adds.set(c, (this.adds.get(c) ?? 0) + 1);
  }

  /** Divides by the number of outputs added (the same for every stack channel) and returns the buffer. */
  mean(): GPUBuffer {
    const counts = new Set(Array.from({ length: this.stack }, (_, c) => this.adds.get(c) ?? 0));
    const [count] = counts;
    if (counts.size !== 1 || count === 0) {
      throw new GpuKernelError(
        'gpu_argument',
        'every stack channel must receive the same number of outputs, at least one',
      );
    }
    this.done = true;
    const n = this.batch * this.stack * this.rows * this.cols;
    this.k.dispatch(
      'mirroring',
      'scale',
      { u32: [n, 1, 1, 0, 1, 1, 0, 0], f32: [1 / count] },
      { 2: this.buffer },
      n,
    );
    return this.buffer;
  }
}
