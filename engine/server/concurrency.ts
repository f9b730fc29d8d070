/**
 * @module
 * How many runs an inference node runs at once (`--concurrency`, default `auto`). Each run has a
 * worker thread of its own (run-pool.ts), and onnxruntime runs the model on that thread plus
 * `threads - 1` intra-op helpers, so a run keeps `threads` cores busy: `auto` runs as many as fit
 * on the cores without oversubscribing them (docs/platform.md, onnxruntime).
 */
import type { Device } from '../runtime/runtime.js';

/** The `--concurrency` setting: a count, or `auto` to size it to the machine. */
export type ConcurrencySetting = number | 'auto';

/** What `auto` sizes from. */
export interface MachineShape {
  /** Cores this process may run on (`os.availableParallelism()`, which honours CPU affinity). */
  cores: number;
  /** onnxruntime intra-op threads per session (`--threads`). */
  threads: number;
  device: Device;
}

/**
 * Cores one run keeps busy: `threads` on the CPU provider; one on onnxruntime-web, which runs
 * single-threaded whatever `--threads` says (engine/runtime/ort-web.ts).
 */
export function coresPerRun(threads: number, device: Device): number {
  return device === 'wasm' ? 1 : Math.max(1, threads);
}

/**
 * `auto`: floor(cores / cores per run), at least 1. A WebGPU node gets 1: its model runs on one GPU
 * device, and a second run would hold a second Dawn device and second sessions in GPU memory to
 * wait on the same queue.
 */
export function autoConcurrency({ cores, threads, device }: MachineShape): number {
  if (device === 'webgpu') return 1;
  return Math.max(1, Math.floor(cores / coresPerRun(threads, device)));
}

/** The runs at once a setting gives on this machine. */
export function resolveConcurrency(setting: ConcurrencySetting, machine: MachineShape): number {
  if (setting === 'auto') return autoConcurrency(machine);
  if (!Number.isInteger(setting) || setting < 1) {
    throw new RangeError(`concurrency must be an integer ≥ 1 or 'auto', got ${setting}`);
  }
  return setting;
}
