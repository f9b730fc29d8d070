/**
 * @module
 * Softmax and argmax over the channel axis of logits stored as `[C][N]` channel planes (channel `c`
 * of voxel `i` at `c * N + i`), the last step of nnU-Net's `convert_logits_to_segmentation`.
 */
import { KernelArgumentError } from './kernel-errors.js';
import type { KernelCore } from './kernel-core.js';

type ChannelFn = (out: number, data: number, n: number, channels: number) => void;

/** Voxel count per channel plane; throws unless `channels` is a positive integer dividing the length. */
function planeLength(data: Float32Array, channels: number, maxChannels: number): number {
  if (!(data instanceof Float32Array))
    throw new KernelArgumentError('kernel_type', 'channel stack must be a Float32Array');
  if (!Number.isInteger(channels) || channels < 1 || channels > maxChannels) {
    throw new KernelArgumentError(
      'kernel_argument',
      `channels must be an integer from 1 to ${maxChannels}, got ${channels}`,
    );
  }
  if (data.length === 0 || data.length % channels !== 0) {
    throw new KernelArgumentError(
      'kernel_shape',
      `${data.length} values do not split into ${channels} non-empty channel planes`,
    );
  }
  return data.length / channels;
}

/** Numerically stable softmax over channels (per-voxel maximum subtracted); returns new `[C][N]` probabilities. */
export function softmax(core: KernelCore, logits: Float32Array, channels: number): Float32Array {
  const n = planeLength(logits, channels, 2 ** 31 - 1);
  return core.run((heap) => {
    const src = heap.put(logits);
    const out = heap.alloc(logits.byteLength);
    core.fn<ChannelFn>('softmax_ch_f32')(out, src, n, channels);
    return heap.take(Float32Array, out, logits.length);
  });
}

/** Index of the largest channel per voxel, first one on ties and NaN as the largest (numpy's argmax); at most 256 channels. */
export function argmax(core: KernelCore, values: Float32Array, channels: number): Uint8Array {
  const n = planeLength(values, channels, 256);
  return core.run((heap) => {
    const src = heap.put(values);
    const out = heap.alloc(n);
    core.fn<ChannelFn>('argmax_ch_f32')(out, src, n, channels);
    return heap.take(Uint8Array, out, n);
  });
}
