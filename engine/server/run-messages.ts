/**
 * @module
 * The messages between a node's main thread (HTTP, admission, frames) and its run workers (decode,
 * segment, encode): one type per direction, so that the two sides cannot drift.
 */
import { userError } from '../errors.js';
import type { LabelStats } from '../postprocessing/label-stats.js';
import type { SliceBackendInfo } from '../inference/slice-backend.js';
import type { ReadLimits } from '../io/index.js';
import type { WorkLimits } from '../pipeline/work.js';
import type { RunError, RunMeta, RunProgress } from '../protocol/frames.js';
import type { RunRequest } from '../protocol/run-request.js';
import type { Device, RuntimeInfo } from '../runtime/runtime.js';

/** What every run worker of one node is started with (`workerData`). */
export interface RunWorkerConfig {
  /** The models folder: each worker keeps its own registry and sessions over it. */
  modelsDir: string;
  device: Device;
  threads: number;
  limits: ReadLimits;
  work: WorkLimits;
  slabPlanes: number;
  /**
   * One Int32 the main thread sets to 1 to stop the worker's current run. Shared memory, so that the
   * worker sees it between pipeline steps without waiting for its event loop to turn.
   */
  stop: SharedArrayBuffer;
}

/** One run handed to a worker: the request and its body (transferred). */
export interface RunJob extends Omit<RunRequest, 'deadlineMs'> {
  type: 'run';
  bytes: Uint8Array;
  /** When the request arrived, as epoch ms (`performance.timeOrigin + now`: threads' clocks differ). */
  arrivedAt: number;
  /** Time it waited for a run slot, in ms (for the JSON summary's timings). */
  queuedMs: number;
}

/** Main thread → worker. */
export type ToRunWorker =
  | RunJob
  /** The previous `data` chunk has left: encode the next one (backpressure). */
  | { type: 'pull' }
  /** Stop the current run (the stop flag is already set; this wakes a worker waiting for `pull`). */
  | { type: 'cancel' }
  /** Release the sessions and exit once idle. */
  | { type: 'close' };

/** A pipeline boundary the worker passed; the main thread times the stage that ended there. */
export type WorkerStage = 'reading' | 'preprocess' | 'predict' | 'postprocess';

/** Worker → main thread, in order; a run ends with exactly one of `end`, `failed`, `cancelled`. */
export type FromRunWorker =
  | { type: 'log'; line: string }
  /** The runtime the run got (a WebGPU session may have fallen back). */
  | { type: 'runtime'; info: RuntimeInfo }
  | { type: 'slices'; info: SliceBackendInfo }
  | { type: 'stage'; stage: WorkerStage }
  | { type: 'progress'; body: RunProgress }
  | { type: 'meta'; body: RunMeta }
  /** One piece of the result; the worker waits for `pull` before the next. */
  | { type: 'data'; chunk: Uint8Array }
  | {
      type: 'end';
      /** The release that ran (a reference without a version resolves to the current one). */
      model: string;
      modelVersion: string;
      stats: LabelStats[];
      runtime: RuntimeInfo;
      slices: SliceBackendInfo;
      modelMs: number;
    }
  /** `cause`: the unexpected error's text for the node's log, on a 500. */
  | { type: 'failed'; error: RunError; cause?: string }
  | { type: 'cancelled' };

/** Epoch milliseconds, comparable across threads. */
export const epochNow = (): number => performance.timeOrigin + performance.now();

/** The error frame of a failure: an AppError's own status and code, else 500 without details. */
export function runErrorOf(caught: unknown): RunError {
  const err = userError(caught);
  if (err) return { status: err.status, code: err.code, detail: err.message };
  return { status: 500, code: 'internal', detail: 'internal error while running the model' };
}
