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
}
