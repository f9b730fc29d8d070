/**
 * @module
 * The inference node's HTTP app: `GET /healthz`, `GET /metrics` and `POST /v1/run`, which checks a
 * request synchronously (auth, query, model, declared size, admission) and then answers 200 with a
 * framed stream (frames.ts) that carries the run's progress, its result and its outcome. Everything
 * that can only fail after the body is read goes into an `error` frame.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Hono, type Context } from 'hono';
import { resolveLimits, type ReadLimits } from '../io/index.js';
import { formatModelReference } from '../models/reference.js';
import { ModelRegistry } from '../models/registry.js';
import { DEFAULT_WORK_LIMITS, type WorkLimits } from '../pipeline/work.js';
import { nodeRuntimeFactory } from '../runtime/node-factory.js';
import type { Device } from '../runtime/runtime.js';
import { FRAMES_CONTENT_TYPE } from '../protocol/frames.js';
import { NODE_LIMIT_CODES } from '../protocol/node-limits.js';
import { createNodeMetrics, type NodeMetrics } from './node-metrics.js';
import { NodeDeviceState } from './node-device.js';
import type { NodeHealth } from '../protocol/node-health.js';
import { InputError, NotFoundError } from '../errors.js';
import { PROBLEM_CONTENT_TYPE, problemBody } from '../protocol/problem.js';
import { parseRunQuery, type RunRequest } from '../protocol/run-request.js';
import { resolveConcurrency, type ConcurrencySetting } from './concurrency.js';
import { DEFAULT_BODY_PACE, executeRun, type BodyPace, type RunSettings } from './node-run.js';
import { RunPool } from './run-pool.js';
import { RunQueue } from './run-queue.js';

/** One structured log line (scalars; never image bytes or the token). */
export type NodeLog = (line: Record<string, unknown>) => void;

/** Options of {@link createNodeApp}. */
export interface NodeAppOptions {
  /** The models folder; the app and each run worker keep a registry over it. */
  modelsDir: string;
  /** Where models run (default 'cpu'). */
  device?: Device;
  /** Intra-op threads per session (default 1). */
  threads?: number;
  /** Runs at once, each on a worker thread of its own (default 'auto': sized to the cores, concurrency.ts). */
  concurrency?: ConcurrencySetting;
  /** Admitted runs waiting beyond `concurrency` (default 8). */
  queue?: number;
  /** When set, every route but /healthz needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Read limits; `maxInputBytes` caps the request body. */
  limits?: Partial<ReadLimits>;
  /** Per-request work bounds (docs/work-bounds.md); default {@link DEFAULT_WORK_LIMITS}. */
  work?: Partial<WorkLimits>;
  /** Wall time of one run from its arrival, queueing included (default 900 s). */
  maxRunSeconds?: number;
  /** The slowest a body may arrive once its run has a slot (default {@link DEFAULT_BODY_PACE}). */
  bodyPace?: BodyPace;
  /** `Retry-After` of a 503 `node_saturated`, in seconds (default 2). */
  retryAfterSeconds?: number;
  log?: NodeLog;
  /** Interval of the heartbeat frames (the last progress again, for the whole run), in ms (default 2000). */
  heartbeatMs?: number;
  /** z-planes per compressed NIfTI slab (default 8). */
  slabPlanes?: number;
}

/** Wall time of one run, queueing included, unless the options say otherwise. */
export const DEFAULT_MAX_RUN_SECONDS = 900;

type NodeEnv = { Variables: { requestId: string; started: number; deferred: boolean } };

/** The node's HTTP app and what stops its run workers. */
export interface NodeApp {
  app: Hono<NodeEnv>;
  /** Stops the run workers (their sessions are released); call once the server no longer serves. */
  close(): Promise<void>;
}

const ROUTES = new Set(['/healthz', '/metrics', '/v1/run']);
const SAFE_ID = /^[A-Za-z0-9._-]{1,64}$/;

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
const routeOf = (path: string): string => (ROUTES.has(path) ? path : 'other');

/** The node's Hono app; its metrics registry is the app's own (see node-metrics.ts). */
export function createNodeApp(options: NodeAppOptions): NodeApp {
  if (options.token === '') throw new RangeError('token must not be empty');
  const device = options.device ?? 'cpu';
  const threads = options.threads ?? 1;
  const concurrency = resolveConcurrency(options.concurrency ?? 'auto', {
    cores: availableParallelism(),
    threads,
    device,
  });
  const queue = new RunQueue(concurrency, options.queue ?? 8);
  // The main thread only lists models; sessions live in the run workers.
  const registry = new ModelRegistry(options.modelsDir, nodeRuntimeFactory);
  const limits = resolveLimits(options.limits);
  const pool = new RunPool(concurrency, {
    modelsDir: options.modelsDir,
    device,
    threads,
    limits,
    work: { ...DEFAULT_WORK_LIMITS, ...options.work },
    slabPlanes: options.slabPlanes ?? 8,
  });
  const deviceState = new NodeDeviceState(device);
  const metrics = createNodeMetrics(queue, deviceState);
  const log: NodeLog = options.log ?? (() => {});
  const expected = options.token === undefined ? null : digest(`Bearer ${options.token}`);
  const bootedAt = performance.now();
  const app = new Hono<NodeEnv>();

  app.use('*', async (c, next) => {
    const given = c.req.header('X-Request-Id');
    const requestId = given && SAFE_ID.test(given) ? given : crypto.randomUUID();
    c.set('requestId', requestId);
    c.set('started', performance.now());
    c.set('deferred', false);
    await next();
    c.res.headers.set('X-Request-Id', requestId);
    // A started run logs and counts itself when its stream ends.
    if (!c.get('deferred')) {
      finish(metrics, log, c, c.res.status, c.req.path === '/v1/run' ? { model: c.req.query('model') } : {});
    }
  });

  app.use('*', async (c, next) => {
    if (!expected || c.req.path === '/healthz') return next();
    const got = digest(c.req.header('Authorization') ?? '');
    if (!timingSafeEqual(got, expected)) {
      return reject(c, metrics, 401, 'unauthorized', 'missing or wrong bearer token', {
        'WWW-Authenticate': 'Bearer',
      });
    }
    return next();
  });

  app.get('/healthz', async (c) => {
    await deviceState.ready;
    const health: NodeHealth = {
      status: 'ok',
      running: queue.running,
      queued: queue.queued,
      concurrency: queue.concurrency,
      queue: queue.capacity,
      device,
      gpu: deviceState.snapshot(),
      models: await registry.ids(),
      releases: await releasesOf(registry),
      uptime_s: Math.round((performance.now() - bootedAt) / 1000),
    };
    return c.json(health);
  });

  app.get('/metrics', async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );

  app.post('/v1/run', async (c) => {
    let run: RunRequest;
    try {
      run = parseRunQuery(c.req.query());
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      return reject(c, metrics, 400, 'invalid_request', err.message);
    }
    const { model, format } = run;
    try {
      await registry.resolve(model);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      return reject(c, metrics, 404, 'model_not_found', err.message);
    }
    const declared = c.req.header('Content-Length');
    if (declared !== undefined && Number(declared) > limits.maxInputBytes) {
      return reject(
        c,
        metrics,
        413,
        NODE_LIMIT_CODES.inputBytes,
        `input is ${declared} bytes; the limit is ${limits.maxInputBytes}`,
      );
    }
    const slot = queue.tryAcquire();
    if (!slot) {
      const retry = String(options.retryAfterSeconds ?? 2);
      return reject(c, metrics, 503, 'node_saturated', 'every run slot and queue place is taken', {
        'Retry-After': retry,
      });
    }
    c.set('deferred', true);
    const settings: RunSettings = {
      pool,
      device: deviceState,
      limits,
      maxRunMs: (options.maxRunSeconds ?? DEFAULT_MAX_RUN_SECONDS) * 1000,
      bodyPace: options.bodyPace ?? DEFAULT_BODY_PACE,
      heartbeatMs: options.heartbeatMs ?? 2000,
      metrics,
      log,
    };
    const stream = executeRun(settings, {
      ...run,
      slot,
      body: c.req.raw.body,
      declaredBytes: declared === undefined ? undefined : Number(declared),
      requestSignal: c.req.raw.signal,
      started: c.get('started'),
      onEnd: (fields) => finish(metrics, log, c, 200, { model, format, ...fields }),
    });
    return c.body(stream, 200, { 'content-type': FRAMES_CONTENT_TYPE, 'cache-control': 'no-store' });
  });

  app.notFound((c) => reject(c, metrics, 404, 'route_not_found', `no route ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => {
    log({ msg: 'unhandled', request_id: c.get('requestId'), error: String(err) });
    return problem(c, 500, 'internal', 'an unexpected error occurred');
  });
  return {
    app,
    async close() {
      await pool.close();
      await registry.dispose();
    },
  };
}

/** Every release under the registry's root, as `<id>@<version>`; a folder whose manifest is broken lists none. */
async function releasesOf(registry: ModelRegistry): Promise<string[]> {
  const out: string[] = [];
  for (const id of await registry.ids()) {
    const versions = await registry.versions(id).catch(() => []);
    for (const v of versions) out.push(formatModelReference(v.id, v.version));
  }
  return out;
}

/** A problem+json response. */
function problem(
  c: Context<NodeEnv>,
  status: number,
  code: string,
  detail: string,
  headers: Record<string, string> = {},
): Response {
  return c.json(problemBody(status, code, detail, c.req.path), status as 400, {
    ...headers,
    'content-type': PROBLEM_CONTENT_TYPE,
  });
}

/** A refused request: counted by its problem code, then rendered. */
function reject(
  c: Context<NodeEnv>,
  metrics: NodeMetrics,
  status: number,
  code: string,
  detail: string,
  headers: Record<string, string> = {},
): Response {
  metrics.rejected.inc({ reason: code });
  return problem(c, status, code, detail, headers);
}

/** Counts, times and logs one finished request. */
function finish(
  metrics: NodeMetrics,
  log: NodeLog,
  c: Context<NodeEnv>,
  status: number,
  fields: Record<string, unknown>,
): void {
  const route = routeOf(c.req.path);
  const seconds = (performance.now() - c.get('started')) / 1000;
  metrics.requests.inc({ route, status: String(status) });
  metrics.requestDuration.observe({ route }, seconds);
  log({
    msg: 'request',
    method: c.req.method,
    path: c.req.path,
    status,
    ms: Math.round(seconds * 1000),
    request_id: c.get('requestId'),
    ...fields,
  });
}
