/**
 * @module
 * One admitted run of `POST /v1/run`, from its slot to its last frame: wait for a free run (with a
 * heartbeat, the last progress again, until the run ends), read the body under the byte cap, hand it to a run worker (run-pool.ts) that
 * decodes, segments and encodes, and relay what the worker tells as frames, ending with an `end` or
 * `error` frame. A cancelled response (the client went away) or a passed deadline stops the worker
 * at its next step; the slot is freed once the worker is.
 */
import { AppError, LimitError } from '../errors.js';
import { concatBytes } from '../protocol/bytes.js';
import { NODE_LIMIT_CODES } from '../protocol/node-limits.js';
import type { ReadLimits } from '../io/index.js';
import type { NodeDeviceState } from './node-device.js';
import { MAX_FRAME_PAYLOAD, type RunError, type RunProgress } from '../protocol/frames.js';
import { FrameSink } from './frame-sink.js';
import type { NodeMetrics, RunStage } from './node-metrics.js';
import type { RunRequest } from '../protocol/run-request.js';
import type { RunPool, WorkerRun } from './run-pool.js';
import { runErrorOf, type FromRunWorker } from './run-messages.js';
import type { RunSlot } from './run-queue.js';

/** What every run of one app shares. */
export interface RunSettings {
  /** The run workers; the queue admits no more runs at once than it has. */
  pool: RunPool;
  /** The node's device; each run's runtime is reported to it (a fallback shows in /healthz). */
  device: NodeDeviceState;
  /** `maxInputBytes` caps the body; the worker checks the rest as it decodes. */
  limits: ReadLimits;
  /** Wall time a run may take from admission; past it the run ends with 504 `run_timeout`. */
  maxRunMs: number;
  /** How slowly the body may arrive once a run slot waits for it. */
  bodyPace: BodyPace;
  heartbeatMs: number;
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

/**
 * The slowest a request body may arrive once a run slot is free for it: after `graceMs`, at least
 * `minBytesPerSecond` on average. The body is read only when a slot is free (a queued run holds no
 * memory for it), so a client that drips it would hold the slot, and a node has one or two, until
 * the run's deadline; past this pace the run ends with 408 `body_too_slow` and frees its slot.
 */
export interface BodyPace {
  graceMs: number;
  minBytesPerSecond: number;
}

/** 1 MiB/s after 10 s: the Worker sends from memory or R2, far faster; a drip is cut within seconds. */
export const DEFAULT_BODY_PACE: Readonly<BodyPace> = Object.freeze({
  graceMs: 10_000,
  minBytesPerSecond: 2 ** 20,
});

/** The client went away. */
class RunCancelled extends Error {}

/** The run's deadline passed. */
class RunTimedOut extends Error {}

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
  // The last progress is sent again every heartbeatMs for the whole run, so that a silent
  // connection means a lost node: the Worker gives up on a stream idle for NODE_IDLE_MS
  // (worker/nodes/remote-run.ts), and a step may report nothing for longer than that.
  let last: RunProgress = { stage: 'queued', done: 0, total: 1 };
  const progress = (p: RunProgress): void => {
    last = p;
    sink.send({ type: 'progress', body: p });
  };
  const cancelled = new Promise<never>((_, reject) => {
    const fail = (): void => reject(signal.reason);
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
  cancelled.catch(() => {});
  const fields: Record<string, unknown> = { outcome: 'ok' };
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let job: WorkerRun | undefined;
  try {
    let t = performance.now();
    heartbeat = setInterval(() => progress(last), settings.heartbeatMs);
    if (req.slot.waiting) {
      progress(last);
      await Promise.race([req.slot.ready, cancelled]);
    }
    const queuedMs = performance.now() - t;
    t = stage('queued', t);

    progress({ stage: 'reading', done: 0, total: req.declaredBytes ?? 0 });
    const bytes = await readBody(req.body, settings.limits.maxInputBytes, settings.bodyPace, signal);
    fields.bytes_in = bytes.byteLength;
    progress({ stage: 'reading', done: bytes.byteLength, total: bytes.byteLength });
    job = settings.pool.start({
      type: 'run',
      model: req.model,
      format: req.format,
      tta: req.tta,
      bytes,
      arrivedAt: performance.timeOrigin + req.started,
      queuedMs,
    });
    fields.worker = job.worker;
    const started = job;
    signal.addEventListener('abort', () => started.cancel(), { once: true });

    let sent = 0;
    for (;;) {
      const m: FromRunWorker = await Promise.race([job.next(), cancelled]);
      if (m.type === 'log') settings.log({ msg: 'runtime', model: req.model, line: m.line });
      else if (m.type === 'runtime') settings.device.observe(m.info);
      else if (m.type === 'slices') settings.device.observeSlices(m.info);
      else if (m.type === 'stage') t = stage(m.stage, t);
      else if (m.type === 'progress') progress(m.body);
      else if (m.type === 'meta') sink.send({ type: 'meta', body: m.body });
      else if (m.type === 'data') {
        for (let at = 0; at < m.chunk.byteLength; at += MAX_FRAME_PAYLOAD) {
          const piece = m.chunk.subarray(at, Math.min(m.chunk.byteLength, at + MAX_FRAME_PAYLOAD));
          sink.send({ type: 'data', body: piece });
          sent += piece.byteLength;
          await sink.drain(signal);
          if (signal.aborted) throw signal.reason;
        }
        job.pull();
      } else if (m.type === 'end') {
        stage('encode', t);
        const adapter = settings.device.snapshot().adapter;
        const runtime = { ...m.runtime, ...(adapter && { adapter: adapter.description }), slices: m.slices };
        const timings_ms = {
          total: Math.round(performance.now() - req.started),
          model: Math.round(m.modelMs),
          queued: Math.round(queuedMs),
        };
        sink.send({
          type: 'end',
          body: {
            bytes: sent,
            model: m.model,
            model_version: m.modelVersion,
            stats: m.stats,
            runtime,
            timings_ms,
          },
        });
        fields.bytes_out = sent;
        clearInterval(heartbeat);
        break;
      } else if (m.type === 'failed') {
        throw new WorkerFailure(m.error, m.cause);
      } else {
        // The worker only stops when told to, and then the signal has already thrown above.
        throw signal.reason ?? new RunCancelled();
      }
    }
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
      const e = err instanceof WorkerFailure ? err.error : runErrorOf(err);
      fields.outcome = e.code;
      if (e.status === 413) metrics.rejected.inc({ reason: e.code });
      metrics.runFailures.inc({ code: e.code });
      if (e.status >= 500) fields.error = err instanceof WorkerFailure ? err.cause : String(err);
      sink.send({ type: 'error', body: e });
    }
  } finally {
    clearInterval(heartbeat);
    sink.close();
    req.onEnd(fields);
    // The slot stays taken until the worker is free: /healthz counts it as running until then.
    job?.cancel();
    await job?.settled;
    req.slot.release();
  }
}

/** A run the worker ended with an error frame. */
class WorkerFailure extends Error {
  constructor(
    readonly error: RunError,
    override readonly cause?: string,
  ) {
    super(error.detail);
  }
}

/** Reads the body, counting bytes as they come: never more than `cap` are buffered, never slower than `pace`. */
async function readBody(
  body: ReadableStream<Uint8Array> | null,
  cap: number,
  pace: BodyPace,
  signal: AbortSignal,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const stop = (): void => void reader.cancel().catch(() => {});
  signal.addEventListener('abort', stop, { once: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  // A drip may send nothing for long: the pace is checked on a clock, not on each read.
  const start = performance.now();
  let slow = null as AppError | null;
  const clock = setInterval(
    () => {
      const late = (performance.now() - start - pace.graceMs) / 1000;
      if (late > 0 && total < late * pace.minBytesPerSecond) {
        slow = new AppError(
          'body_too_slow',
          408,
          `the request body arrived at under ${pace.minBytesPerSecond} bytes/s (${total} bytes in ${Math.round(late + pace.graceMs / 1000)} s); a run slot waits for it no longer`,
        );
        stop();
      }
    },
    Math.min(1000, pace.graceMs / 4),
  );
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (signal.aborted) throw signal.reason;
      // A cancelled read ends as if the body were complete: the pace decides it was not.
      if (slow) throw slow;
      if (done) break;
      total += value.byteLength;
      if (total > cap) {
        stop();
        throw new LimitError(NODE_LIMIT_CODES.inputBytes, `input exceeds the limit of ${cap} bytes`);
      }
      chunks.push(value);
    }
  } finally {
    clearInterval(clock);
    signal.removeEventListener('abort', stop);
  }
  // Always a buffer of its own, even for one chunk (which may sit in a shared pool): it is
  // transferred to the run worker.
  return concatBytes(chunks);
}
