/**
 * @module
 * The slice steps after the network in the WGSL kernels of `kernels/`, on any `GPUDevice`: the
 * copy-back design. The network (onnxruntime-node, whose WebGPU provider cannot share its device,
 * docs/gpu-nodes.md) returns each batch's outputs on the CPU; they are uploaded once, un-flipped and
 * averaged ({@link MirrorSum}), accumulated ({@link GpuPatchAccumulator}), cut out of the padding,
 * resampled to the crop plane, and reduced to labels (and probabilities when asked), which come back
 * in one read per slice. Tiling, network calls and their order are those of the WASM path.
 */
import type { GpuKernels } from '../../kernels/gpu-core.js';
import { MirrorSum } from '../../kernels/mirroring.js';
import { resamplePlanesLinearGpu } from '../../kernels/resample.js';
import { GpuPatchAccumulator } from '../../kernels/sliding-window.js';
import { argmaxGpu, softmaxGpu } from '../../kernels/softmax.js';
import { gaussianImportanceMap } from '../../wasm/src/sliding-window.js';
import { sliceOutput, type SliceOutput } from '../postprocessing/slice-output.js';
import { planePixels, planeShape, samePlane } from '../preprocessing/axes.js';
import { mirrorCombinations } from './mirroring.js';
import { stackChannels, type SliceBackend, type SliceJob, type SliceRunner } from './slice-backend.js';
import { batchInput, forEachOutput, sliceTiles, unpadRows } from './slice-predictor.js';

/** The WGSL slice path on `kernels`' device, reported as running on `adapter`. */
export function gpuSliceBackend(kernels: GpuKernels, adapter: string): SliceBackend {
  return {
    info: { kind: 'webgpu', adapter },
    open: (job) => new GpuSliceRunner(kernels, job),
  };
}

class GpuSliceRunner implements SliceRunner {
  private readonly flips: number[][];
  private readonly channels: number;
  /** The importance map is the WASM kernel's (f64, rounded once), so both paths weigh tiles alike. */
  private readonly gaussian: Float32Array;

  constructor(
    private readonly k: GpuKernels,
    private readonly job: SliceJob,
  ) {
    this.flips = mirrorCombinations(job.predictor.mirrorAxes);
    this.channels = stackChannels(job);
    this.gaussian = gaussianImportanceMap(job.core, planeShape(job.predictor.patch));
  }

  async run(slice: Float32Array): Promise<SliceOutput> {
    const owned: GPUBuffer[] = [];
    try {
      return await this.predict(slice, owned);
    } finally {
      // A failure can leave dispatches encoded that use these buffers: submit them before freeing.
      await this.k.flush().catch(() => {});
      for (const b of owned) b.destroy();
    }
  }

  private async predict(slice: Float32Array, owned: GPUBuffer[]): Promise<SliceOutput> {
    const { k, channels } = this;
    const { predictor, output, folds } = this.job;
    const { patch } = predictor;
    const { padded, tiles } = sliceTiles(slice, output.from, patch, predictor.tileStep);
    const acc = new GpuPatchAccumulator(
      k,
      channels,
      planeShape(padded.plane),
      planeShape(patch),
      this.gaussian,
    );
    for (let i = 0; i < tiles.length; i += predictor.batch) {
      const batch = tiles.slice(i, i + predictor.batch);
      const mirror = new MirrorSum(k, batch.length, channels, patch);
      owned.push(mirror.buffer);
      const input = batchInput(padded, batch, patch);
      await forEachOutput(folds, this.flips, predictor, input, batch.length, (data, c, offset, flip) =>
        mirror.add(k.temp(data), c, offset, flip),
      );
      acc.add(
        mirror.mean(),
        batch.map(({ row, col }) => [col, row, 0] as const),
      );
      // One submission per batch keeps at most one batch of outputs on the device.
      await k.flush();
      mirror.buffer.destroy();
      owned.pop();
    }
    let stacked = await acc.finish();
    owned.push(stacked);
    if (!samePlane(padded.plane, output.from)) {
      const cut = k.buffer(channels * planePixels(output.from) * 4, 'unpadded');
      owned.push(cut);
      unpadRows(channels, padded, output.from, (src, dst, length) =>
        k.copy(stacked, cut, length * 4, src * 4, dst * 4),
      );
      stacked = cut;
    }
    if (!samePlane(output.from, output.to)) {
      if (output.order !== 1) {
        // Only linear resampling has a WGSL kernel: other orders finish on the CPU, still correct.
        const m = planePixels(output.from);
        return sliceOutput(this.job.core, await k.read(stacked, Float32Array, channels * m), {
          ...output,
          channels,
        });
      }
      stacked = resamplePlanesLinearGpu(k, stacked, channels, output.from, output.to);
      owned.push(stacked);
    }
    return this.readBack(stacked, owned);
  }

  /** Argmax (and softmax) of the stacked logits on the crop plane, read back with the level sets in one copy. */
  private async readBack(stacked: GPUBuffer, owned: GPUBuffer[]): Promise<SliceOutput> {
    const { k, channels } = this;
    const { classes, to, probabilities } = this.job.output;
    const n = planePixels(to);
    const labelBytes = Math.ceil(n / 4) * 4;
    const probBytes = probabilities ? classes * n * 4 : 0;
    const levelBytes = (channels - classes) * n * 4;
    const out = k.buffer(labelBytes + probBytes + levelBytes, 'slice-out');
    owned.push(out);
    const labels = argmaxGpu(k, stacked, classes * n, classes);
    owned.push(labels);
    k.copy(labels, out, labelBytes);
    if (probabilities) {
      const probs = softmaxGpu(k, stacked, classes * n, classes);
      owned.push(probs);
      k.copy(probs, out, probBytes, 0, labelBytes);
    }
    if (levelBytes > 0) k.copy(stacked, out, levelBytes, classes * n * 4, labelBytes + probBytes);
    const bytes = await k.read(out, Uint8Array, labelBytes + probBytes + levelBytes);
    return {
      labels: bytes.slice(0, n),
      probabilities: probabilities ? new Float32Array(bytes.buffer, labelBytes, classes * n) : undefined,
      levelsets: new Float32Array(bytes.buffer, labelBytes + probBytes, (channels - classes) * n),
    };
  }
}
