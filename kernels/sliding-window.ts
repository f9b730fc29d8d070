/**
 * @module
 * nnU-Net's sliding-window accumulation on the GPU, the twin of `PatchAccumulator` in
 * `wasm/src/sliding-window.ts`: the accumulators and weights stay in GPU buffers, batches of patch
 * logits (already on the GPU, e.g. the TTA mean) are added with the Gaussian importance map, and
 * `finish` divides. The map itself is the WASM kernel's `gaussianImportanceMap` (computed in f64
 * and rounded once, once per patch size), uploaded here.
 */
import { KernelArgumentError } from '../wasm/src/kernel-errors.js';
import { checkVolume, voxelCount, type Shape3 } from '../wasm/src/shape.js';
import { checkAccumulator, checkWindow } from '../wasm/src/sliding-window.js';
import type { GpuKernels } from './gpu-core.js';

/** Weighted accumulation of patch logits over a `[C][volume]` GPU buffer, then `acc / weights`. */
export class GpuPatchAccumulator {
  private readonly acc: GPUBuffer;
  private readonly weights: GPUBuffer;
  private readonly gaussian: GPUBuffer;
  private finished = false;

  /** An empty accumulator for `channels` planes of `volume`, patches of `patch` and their importance map. */
  constructor(
    private readonly k: GpuKernels,
    private readonly channels: number,
    private readonly volume: Shape3,
    private readonly patch: Shape3,
    gaussian: Float32Array,
  ) {
    checkAccumulator(channels, volume, patch);
    checkVolume(patch, gaussian, 'patch');
    this.acc = k.buffer(channels * voxelCount(volume) * 4, 'sw-acc');
    this.weights = k.buffer(voxelCount(volume) * 4, 'sw-weights');
    this.gaussian = k.buffer(gaussian, 'sw-gaussian');
  }

  /**
   * Adds a batch of `[tiles][C][patch]` logits (`logits`, on the GPU) at window starts `offsets`
   * (one per tile, voxels, inside the volume), in tile order.
   */
  add(logits: GPUBuffer, offsets: readonly Shape3[]): void {
    if (this.finished) throw new KernelArgumentError('kernel_state', 'GpuPatchAccumulator.add after finish');
    const { volume, patch, channels } = this;
    if (offsets.length === 0) return;
    for (const o of offsets) checkWindow(o, patch, volume);
    if (logits.size < offsets.length * channels * voxelCount(patch) * 4) {
      throw new KernelArgumentError(
        'kernel_shape',
        `patch logits must hold ${offsets.length} x ${channels} x ${voxelCount(patch)} values`,
      );
    }
    const lo = [0, 1, 2].map((d) => Math.min(...offsets.map((o) => o[d])));
    const size = [0, 1, 2].map((d) => Math.max(...offsets.map((o) => o[d])) + patch[d] - lo[d]);
    const table = this.k.temp(new Uint32Array(offsets.flat()));
    this.k.dispatch(
      'sliding-window',
      'sw_accumulate',
      { u32: [...volume, ...patch, channels, offsets.length, ...lo, ...size] },
      { 1: this.gaussian, 2: logits, 3: table, 4: this.acc, 5: this.weights },
      size[0] * size[1] * size[2],
    );
  }

  /** `acc / weights` as a `[C][volume]` GPU buffer; throws if some voxel was never covered by a patch. */
  async finish(): Promise<GPUBuffer> {
    if (this.finished)
      throw new KernelArgumentError('kernel_state', 'GpuPatchAccumulator.finish called twice');
    this.finished = true;
    const counter = this.k.buffer(4, 'sw-uncovered');
    const n = voxelCount(this.volume);
    this.k.dispatch(
      'sliding-window',
      'sw_divide',
      { u32: [...this.volume, ...this.patch, this.channels, 0, 0, 0, 0, 0, 0, 0] },
      { 4: this.acc, 5: this.weights, 6: counter },
      n,
    );
    const [uncovered] = await this.k.read(counter, Uint32Array, 1);
    counter.destroy();
    this.weights.destroy();
    this.gaussian.destroy();
    if (uncovered > 0) {
      throw new KernelArgumentError('kernel_coverage', `${uncovered} voxels were not covered by any patch`);
    }
    return this.acc;
  }
}
