/**
 * @module
 * The one interface every ONNX runtime adapter implements. The pipeline only ever sees this type;
 * which backend runs (onnxruntime-node CPU or WebGPU, onnxruntime-web WASM) is chosen at the entry
 * point and handed down.
 */

/** Where a model runs. */
export type Device = 'cpu' | 'webgpu' | 'wasm';

/** One float32 output tensor. */
export interface RuntimeTensor {
  data: Float32Array;
  dims: readonly number[];
}

/** What actually runs, reported to callers (a WebGPU request may have fallen back to the CPU). */
export interface RuntimeInfo {
  /** The device asked for. */
  requested: Device;
  /** The execution provider that runs the model: 'cpu', 'webgpu' or 'wasm'. */
  provider: Device;
  /** Intra-op threads. */
  threads: number;
  /** Why the requested device was not used, when it was not. */
  fallbackReason?: string;
}

/** A loaded model session on one backend. */
export interface InferenceRuntime {
  readonly info: RuntimeInfo;
  readonly inputName: string;
  readonly outputNames: readonly string[];
  /** Runs one float32 batch `[B, C, ...]`; resolves to every output by name. */
  run(input: Float32Array, dims: readonly number[]): Promise<Record<string, RuntimeTensor>>;
  /** Releases the session. */
  dispose(): Promise<void>;
}

/** Options shared by the adapters. */
export interface RuntimeOptions {
  /** Intra-op thread count (WASM is always 1). */
  threads?: number;
  /** Receives one line per notable event (fallbacks). */
  log?: (line: string) => void;
  /**
   * Most tiles one call of the onnxruntime-node CPU provider runs; a larger batch runs as
   * consecutive smaller ones with the same results (engine/runtime/sub-batches.ts). Default
   * {@link CPU_MAX_BATCH}.
   */
  maxBatch?: number;
}

/**
 * The CPU provider's default {@link RuntimeOptions.maxBatch}: the plans' batch of 8 costs ~50 MB
 * more resident memory than 4 for no speed (bench/results/engine.md, "onnxruntime-node memory").
 */
export const CPU_MAX_BATCH = 1;
