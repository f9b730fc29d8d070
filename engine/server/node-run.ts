/**
 * @module
 * One admitted run of `POST /v1/run`, from its slot to its last frame: wait for a free run (with a
 * `queued` heartbeat), read the body under the byte cap, segment, encode the result as it streams
 * out, and end with an `end` or `error` frame. A cancelled response (the client went away) aborts
 * the run at its next step and frees the slot.
 */
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { LimitError, userError } from '../errors.js';
import { readImage, type ReadLimits } from '../io/index.js';
import type { ModelRegistry } from '../models/registry.js';
import { modalityWarnings } from '../models/modality.js';
import { segment } from '../pipeline/segment.js';
import { workGuard, type WorkLimits } from '../pipeline/work.js';
import type { InferenceRuntime } from '../runtime/runtime.js';
import { nodeSliceBackend } from '../runtime/slice-backend-node.js';
import type { NodeDeviceState } from './node-device.js';
import {
  encodeFrame,
  MAX_FRAME_PAYLOAD,
  type Frame,
  type RunError,
  type RunProgress,
} from '../protocol/frames.js';
import type { NodeMetrics, RunStage } from './node-metrics.js';
import { checkEncodable, encodeResult, RESULT_CONTENT_TYPES } from '../protocol/result-encoding.js';
import type { RunRequest } from '../protocol/run-request.js';
import type { RunSlot } from './run-queue.js';

/** What every run of one app shares. */
export interface RunSettings {
  registry: ModelRegistry;
  /** The node's device; each run's runtime is reported to it (a fallback shows in /healthz). */
  device: NodeDeviceState;
  threads: number;
  limits: ReadLimits;
  /** Per-request work bounds, checked from the header before the voxels are decoded. */
  work: WorkLimits;
  /** Wall time a run may take from admission; past it the run ends with 504 `run_timeout`. */
  maxRunMs: number;
  heartbeatMs: number;
  slabPlanes: number;
  metrics: NodeMetrics;
  log: (line: Record<string, unknown>) => void;
}

/** One admitted run: the request as the node parsed it, its slot and its connection. */
export interface AdmittedRun extends RunRequest {
  slot: RunSlot;
  body: ReadableStream<Uint8Array> | null;
  declaredBytes?: number;
  requestSignal: AbortSignal;
  /** `performance.now()` when the request arrived. */
  started: number;
  /** Called once when the stream ends, with fields for the request's log line. */
  onEnd: (fields: Record<string, unknown>) => void;
}

/** The client went away. */
class RunCancelled extends Error {}

/** The run's deadline passed. */
class RunTimedOut extends Error {}

/** A response body of frames with backpressure: `drain()` waits while the client lags. */
class FrameSink {
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private wake: (() => void) | undefined;
  closed = false;

  constructor(onCancel: () => void) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => void (this.controller = controller),
        pull: () => this.resume(),
        cancel: () => {
          this.closed = true;
          this.resume();
          onCancel();
        },
      },
      { highWaterMark: 2 * MAX_FRAME_PAYLOAD, size: (chunk) => chunk.byteLength },
    );
  }

  send(frame: Frame): void {
    if (!this.closed) this.controller.enqueue(encodeFrame(frame));
  }

  async drain(): Promise<void> {
    while (!this.closed && (this.controller.desiredSize ?? 1) <= 0) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.controller.close();
  }

  private resume(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** Starts a run and returns its framed response body; the run goes on in the background. */
export function executeRun(settings: RunSettings, request: AdmittedRun): ReadableStream<Uint8Array> {
  const abort = new AbortController();
  const sink = new FrameSink(() => abort.abort(new RunCancelled()));
  request.requestSignal.addEventListener('abort', () => abort.abort(new RunCancelled()), { once: true });
  // Every run has a deadline, queueing included: a run nobody can wait for frees its slot.
  const deadline = Math.min(settings.maxRunMs, request.deadlineMs ?? Infinity);
  const timer = setTimeout(() => abort.abort(new RunTimedOut()), deadline);
  void run(settings, request, sink, abort.signal).finally(() => clearTimeout(timer));
  return sink.stream;
}

async function run(
  settings: RunSettings,
  req: AdmittedRun,
  sink: FrameSink,
  signal: AbortSignal,
): Promise<void> {
  const { metrics } = settings;
  const stage = (name: RunStage, since: number): number => {
    const now = performance.now();
    metrics.stage.observe({ stage: name }, (now - since) / 1000);
    return now;
  };
  const progress = (p: RunProgress): void => sink.send({ type: 'progress', body: p });
  const cancelled = new Promise<never>((_, reject) => {
    const fail = (): void => reject(signal.reason);
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
  cancelled.catch(() => {});
  const fields: Record<string, unknown> = { outcome: 'ok' };
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let queuedMs = 0;
  try {
    let t = performance.now();
    if (req.slot.waiting) {
      const beat = (): void => progress({ stage: 'queued', done: 0, total: 1 });
      beat();
      heartbeat = setInterval(beat, settings.heartbeatMs);
      await Promise.race([req.slot.ready, cancelled]);
      clearInterval(heartbeat);
    }
    queuedMs = performance.now() - t;
    t = stage('queued', t);

    progress({ stage: 'reading', done: 0, total: req.declaredBytes ?? 0 });
    const bytes = await readBody(req.body, settings.limits.maxInputBytes, signal);
    fields.bytes_in = bytes.byteLength;
    progress({ stage: 'reading', done: bytes.byteLength, total: bytes.byteLength });
    const model = await settings.registry.load(req.model);
    const work = { tta: req.tta, refine: req.refine };
    const image = readImage(bytes, {
      limits: settings.limits,
      inspect: workGuard(model.manifest, work, settings.work),
    });
    checkEncodable(req.format, image);
    t = stage('reading', t);

    const folds = await settings.registry.runtimes(req.model, settings.device.requested, {
      threads: settings.threads,
      log: (line) => settings.log({ msg: 'runtime', model: req.model, line }),
    });
    settings.device.observe(folds[0].info);
    const slices = await nodeSliceBackend(folds[0].info);
    settings.device.observeSlices(slices.info);
    let predictFrom = 0;
    const watched = watchFolds(folds, signal, () => {
      if (!predictFrom) predictFrom = stage('preprocess', t);
    });
    const result = await segment(await sharedKernels(), image, model.manifest, watched, {
      ...work,
      slices,
      onProgress: (p) => {
        if (signal.aborted) throw signal.reason;
        if (p.stage === 'done') {
          t = stage('postprocess', t);
          return;
        }
        if (p.stage === 'postprocess') t = stage('predict', predictFrom || t);
        progress({ stage: p.stage, done: p.done, total: p.total });
      },
    });

    progress({ stage: 'encode', done: 0, total: 1 });
    const timings = (): { total: number; model: number; queued: number } => ({
      total: Math.round(performance.now() - req.started),
      model: Math.round(result.timings.modelMs),
      queued: Math.round(queuedMs),
    });
    const voxels = image.shape[0] * image.shape[1] * image.shape[2];
    sink.send({
      type: 'meta',
      body: {
        content_type: RESULT_CONTENT_TYPES[req.format],
        shape: image.shape,
        voxels,
        warnings: modalityWarnings(model.manifest, image),
      },
    });
    let sent = 0;
    for (const chunk of encodeResult(req.format, image, result, timings, settings.slabPlanes)) {
      for (let at = 0; at < chunk.byteLength; at += MAX_FRAME_PAYLOAD) {
        const piece = chunk.subarray(at, Math.min(chunk.byteLength, at + MAX_FRAME_PAYLOAD));
        sink.send({ type: 'data', body: piece });
        sent += piece.byteLength;
        await sink.drain();
        if (signal.aborted) throw signal.reason;
      }
    }
    stage('encode', t);
    const adapter = settings.device.snapshot().adapter;
    const runtime = {
      ...result.runtime,
      ...(adapter && { adapter: adapter.description }),
      slices: result.slices,
    };
    sink.send({
      type: 'end',
      body: {
        bytes: sent,
        model: model.id,
        model_version: model.version,
        stats: result.stats,
        runtime,
        timings_ms: timings(),
      },
    });
    fields.bytes_out = sent;
  } catch (err) {
    clearInterval(heartbeat);
    if (signal.reason instanceof RunTimedOut) {
      fields.outcome = 'run_timeout';
      metrics.runFailures.inc({ code: 'run_timeout' });
      sink.send({
        type: 'error',
        body: { status: 504, code: 'run_timeout', detail: 'The run passed its deadline and was stopped.' },
      });
    } else if (signal.aborted || err instanceof RunCancelled) {
      fields.outcome = 'cancelled';
    } else {
      const e = runError(err);
      fields.outcome = e.code;
      if (e.status === 413) metrics.rejected.inc({ reason: e.code });
      metrics.runFailures.inc({ code: e.code });
      if (e.status >= 500) fields.error = String(err);
      sink.send({ type: 'error', body: e });
    }
  } finally {
    req.slot.release();
    sink.close();
    req.onEnd(fields);
  }
}

/** Reads the body, counting bytes as they come: never more than `cap` are buffered. */
async function readBody(
  body: ReadableStream<Uint8Array> | null,
  cap: number,
  signal: AbortSignal,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const stop = (): void => void reader.cancel().catch(() => {});
  signal.addEventListener('abort', stop, { once: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (signal.aborted) throw signal.reason;
      if (done) break;
      total += value.byteLength;
      if (total > cap) {
        stop();
        throw new LimitError('input_too_large', `input exceeds the limit of ${cap} bytes`);
      }
      chunks.push(value);
    }
  } finally {
    signal.removeEventListener('abort', stop);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The fold runtimes, checking for cancellation before each model call. */
function watchFolds(folds: InferenceRuntime[], signal: AbortSignal, onRun: () => void): InferenceRuntime[] {
  return folds.map((f) => ({
    info: f.info,
    inputName: f.inputName,
    outputNames: f.outputNames,
    run: async (input, dims) => {
      if (signal.aborted) throw signal.reason;
      onRun();
      return f.run(input, dims);
    },
    dispose: () => f.dispose(),
  }));
}

/** The error frame of a failure: an AppError's own status and code, else 500 without details. */
function runError(caught: unknown): RunError {
  const err = userError(caught);
  if (err) return { status: err.status, code: err.code, detail: err.message };
  return { status: 500, code: 'internal', detail: 'internal error while running the model' };
}
