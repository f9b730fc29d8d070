/**
 * @module
 * Where a slice's steps after the network run: TTA un-flip and mean over flips and folds,
 * Gaussian-weighted accumulation, resampling back to the crop plane, argmax (and softmax when
 * asked). `segment()` takes a {@link SliceBackend} as an argument, so it stays runtime-agnostic:
 * the WASM kernels by default ({@link wasmSliceBackend}), the WGSL kernels on a GPU node
 * (`gpu-slice-backend.ts`). Both run the same network calls in the same order.
 */
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import { sliceOutput, type SliceOutput, type SliceOutputOptions } from '../postprocessing/slice-output.js';
import type { InferenceRuntime } from '../runtime/runtime.js';
import { SlicePredictor, type SlicePredictorOptions } from './slice-predictor.js';

/** Which implementation ran a volume's slices, reported with every result. */
export interface SliceBackendInfo {
  /** `wasm`: the WASM kernels on the CPU; `webgpu`: the WGSL kernels on a WebGPU device. */
  kind: 'wasm' | 'webgpu';
  /** The WebGPU adapter the kernels ran on (webgpu only). */
  adapter?: string;
  /** Why a GPU slice path was asked for but the WASM one runs. */
  fallbackReason?: string;
}

/** Everything fixed for a whole volume. */
export interface SliceJob {
  core: KernelCore;
  folds: readonly InferenceRuntime[];
  predictor: SlicePredictorOptions;
  /** The slice output's shape and work; `from` is the plane slices are predicted on. */
  output: Omit<SliceOutputOptions, 'channels'>;
}

/** Predicts the slices of one volume, one at a time. */
export interface SliceRunner {
  /** One model-plane slice (row-major) to its labels, probabilities and level sets on the crop plane. */
  run(slice: Float32Array): Promise<SliceOutput>;
}

/** An implementation of the slice steps. */
export interface SliceBackend {
  readonly info: SliceBackendInfo;
  open(job: SliceJob): SliceRunner;
}

/** Stacked channels of all outputs of a job. */
export function stackChannels(job: SliceJob): number {
  return job.predictor.outputChannels.reduce((a, b) => a + b, 0);
}

/** The WASM kernels ({@link SlicePredictor}, then {@link sliceOutput}); `fallbackReason` says why not the GPU. */
export function wasmSliceBackend(fallbackReason?: string): SliceBackend {
  return {
    info: fallbackReason === undefined ? { kind: 'wasm' } : { kind: 'wasm', fallbackReason },
    open(job) {
      const predictor = new SlicePredictor(job.core, job.folds, job.predictor);
      const channels = stackChannels(job);
      return {
        async run(slice) {
          const stacked = await predictor.predict(slice, job.output.from);
          return sliceOutput(job.core, stacked, { ...job.output, channels });
        },
      };
    },
  };
}
