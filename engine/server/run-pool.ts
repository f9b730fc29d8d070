/**
 * @module
 * The run workers of a node: up to `size` worker threads (run-worker.ts), started as runs need them,
 * each running one run at a time. onnxruntime-node's `run` and the WASM kernels hold the thread that
 * calls them (docs/platform.md), so runs only overlap on separate threads. The RunQueue admits at
 * most `size` runs at once, so a started run always finds a worker free; a worker that dies is
 * replaced by the next run that needs one.
 */
import { once } from 'node:events';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import type { FromRunWorker, RunJob, RunWorkerConfig, ToRunWorker } from './run-messages.js';

const WORKER_MODULE = new URL('./run-worker.js', import.meta.url);
/** How long a closing worker may take to release its sessions before it is terminated. */
const CLOSE_GRACE_MS = 5000;
/**
 * How long a cancelled run may take to stop before its worker is terminated. A run sees the stop
 * flag between pipeline steps; one step that runs for long (decoding a hostile input) would keep
 * the slot past the run's deadline. The pool replaces a terminated worker on the next run.
 */
export const STOP_GRACE_MS = 5000;

const isLast = (m: FromRunWorker): boolean =>
  m.type === 'end' || m.type === 'failed' || m.type === 'cancelled';

/** One run on a worker, as the main thread drives it. */
export interface WorkerRun {
  /** The worker's thread id (for the request's log line). */
  readonly worker: number;
  /** The worker's next message; the last is `end`, `failed` (also when the worker died) or `cancelled`. */
  next(): Promise<FromRunWorker>;
  /** The last `data` chunk has left: the worker may encode the next. */
  pull(): void;
  /** Asks the worker to stop at its next step; it then answers `cancelled`. */
  cancel(): void;
  /** Resolves when the worker is free for another run (after its last message, or once it died). */
  readonly settled: Promise<void>;
}

/** Messages of one run, in order, for one reader. */
class Inbox {
  private readonly items: FromRunWorker[] = [];
  private waiter: ((m: FromRunWorker) => void) | undefined;
  private ended = false;

  push(m: FromRunWorker): void {
    if (this.ended) return;
    if (isLast(m)) this.ended = true;
    const w = this.waiter;
    this.waiter = undefined;
    if (w) w(m);
    else this.items.push(m);
  }

  next(): Promise<FromRunWorker> {
    const m = this.items.shift();
    return m ? Promise.resolve(m) : new Promise((resolve) => (this.waiter = resolve));
  }

  get isEnded(): boolean {
    return this.ended;
  }
}

class PoolWorker {
  readonly worker: Worker;
  private readonly stop = new Int32Array(new SharedArrayBuffer(4));
  private inbox: Inbox | undefined;
  private settle: (() => void) | undefined;
  private failure: unknown;
  private stopTimer: ReturnType<typeof setTimeout> | undefined;
  exited = false;

  constructor(
    config: Omit<RunWorkerConfig, 'stop'>,
    private readonly stopGraceMs: number,
    private readonly onFree: (w: PoolWorker) => void,
    private readonly onExit: (w: PoolWorker) => void,
  ) {
    const workerData: RunWorkerConfig = { ...config, stop: this.stop.buffer as SharedArrayBuffer };
    // One environment with the main thread and native code, as before runs had threads of their
    // own: Dawn reads VK_ICD_FILENAMES, which kernels/node-device.ts may set for SwiftShader.
    this.worker = new Worker(WORKER_MODULE, { workerData, env: SHARE_ENV });
    this.worker.on('message', (m: FromRunWorker) => {
      this.inbox?.push(m);
      if (isLast(m)) this.finish();
    });
    this.worker.on('error', (err) => (this.failure = err));
    this.worker.on('exit', (code) => {
      this.exited = true;
      if (this.inbox && !this.inbox.isEnded) {
        const why = this.failure === undefined ? `exit code ${code}` : String(this.failure);
        this.inbox.push({
          type: 'failed',
          error: { status: 500, code: 'internal', detail: 'internal error while running the model' },
          cause: `the run worker died: ${why}`,
        });
      }
      this.finish();
      this.onExit(this);
    });
    this.worker.unref();
  }

  get busy(): boolean {
    return this.inbox !== undefined;
  }

  start(job: RunJob): WorkerRun {
    const inbox = new Inbox();
    this.inbox = inbox;
    const settled = new Promise<void>((resolve) => (this.settle = resolve));
    Atomics.store(this.stop, 0, 0);
    this.worker.ref();
    this.send(job, [job.bytes.buffer as ArrayBuffer]);
    // Once this run has ended the worker may be running another: a late pull or cancel is dropped.
    const current = (): boolean => this.inbox === inbox;
    return {
      worker: this.worker.threadId,
      next: () => inbox.next(),
      pull: () => {
        if (current()) this.send({ type: 'pull' });
      },
      cancel: () => {
        if (current()) this.cancel();
      },
      settled,
    };
  }

  cancel(): void {
    if (!this.busy) return;
    Atomics.store(this.stop, 0, 1);
    this.send({ type: 'cancel' });
    // The exit handler ends the run as failed and frees the slot; finish() clears this when it stops.
    this.stopTimer ??= setTimeout(() => void this.worker.terminate(), this.stopGraceMs);
  }

  send(message: ToRunWorker, transfer: ArrayBuffer[] = []): void {
    if (!this.exited) this.worker.postMessage(message, transfer);
  }

  private finish(): void {
    clearTimeout(this.stopTimer);
    this.stopTimer = undefined;
    if (!this.inbox) return;
    this.inbox = undefined;
    this.worker.unref();
    const settle = this.settle;
    this.settle = undefined;
    if (!this.exited) this.onFree(this);
    settle?.();
  }
}

/** At most `size` run workers, started on demand. */
export class RunPool {
  private readonly workers = new Set<PoolWorker>();
  private readonly idle: PoolWorker[] = [];
  private closed = false;

  constructor(
    readonly size: number,
    private readonly config: Omit<RunWorkerConfig, 'stop'>,
    private readonly stopGraceMs = STOP_GRACE_MS,
  ) {}

  /**
   * Runs `job` on a free worker. Its body is transferred: `job.bytes` must own its whole buffer.
   * Throws when all `size` workers are busy, which admission (RunQueue) rules out.
   */
  start(job: RunJob): WorkerRun {
    if (this.closed) throw new Error('run pool is closed');
    const worker = this.idle.pop() ?? this.spawn();
    return worker.start(job);
  }

  /** Stops every worker: idle ones release their sessions, busy ones are cancelled first. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.workers].map(async (w) => {
        if (w.exited) return;
        const exited = once(w.worker, 'exit');
        w.cancel();
        w.send({ type: 'close' });
        const timer = setTimeout(() => void w.worker.terminate(), CLOSE_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  private spawn(): PoolWorker {
    if (this.workers.size >= this.size) {
      throw new Error(`all ${this.size} run workers are busy`);
    }
    const worker = new PoolWorker(
      this.config,
      this.stopGraceMs,
      (w) => {
        if (!this.closed) this.idle.push(w);
      },
      (w) => {
        this.workers.delete(w);
        const i = this.idle.indexOf(w);
        if (i >= 0) this.idle.splice(i, 1);
      },
    );
    this.workers.add(worker);
    return worker;
  }
}
