/**
 * @module
 * Softmax and argmax over the channel axis of `[C][N]` channel planes on the GPU, the twins of
 * `wasm/src/softmax.ts`. Inputs and outputs stay in GPU buffers.
 */
import { GpuKernelError, type GpuKernels } from './gpu-core.js';

/** Checks `channels` against a buffer of `values` floats; returns the voxels per channel plane. */
function planeLength(values: number, channels: number, maxChannels: number): number {
  if (!Number.isInteger(channels) || channels < 1 || channels > maxChannels) {
    throw new GpuKernelError(
      'gpu_argument',
      `channels must be an integer from 1 to ${maxChannels}, got ${channels}`,
    );
  }
  if (!Number.isInteger(values) || values <= 0 || values % channels !== 0) {
    throw new GpuKernelError(
      'gpu_shape',
      `${values} values do not split into ${channels} non-empty channel planes`,
    );
  }
  return values / channels;
}

/** Numerically stable softmax of `logits` (`channels` planes, `length` floats in all) into a new buffer. */
export function softmaxGpu(k: GpuKernels, logits: GPUBuffer, length: number, channels: number): GPUBuffer {
  const n = planeLength(length, channels, 2 ** 31 - 1);
  const probs = k.buffer(length * 4, 'softmax');
  k.dispatch('softmax', 'softmax_ch', { u32: [n, channels] }, { 1: logits, 2: probs }, n);
  return probs;
}

/**
 * Index of the largest channel per voxel (numpy's argmax: first on ties, NaN largest), at most 256
 * channels, as bytes packed four to a u32: read it back as a `Uint8Array` of N.
 */
export function argmaxGpu(k: GpuKernels, values: GPUBuffer, length: number, channels: number): GPUBuffer {
  const n = planeLength(length, channels, 256);
  const labels = k.buffer(n, 'argmax');
  k.dispatch('softmax', 'argmax_ch', { u32: [n, channels] }, { 1: values, 3: labels }, Math.ceil(n / 4));
  return labels;
}
