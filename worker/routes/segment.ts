/**
 * @module
 * `POST /v1/segment`: one-shot segmentation of a small input (the body cap), answered by `Accept`
 * with a NIfTI label map, a PNG (2D inputs) or JSON statistics. Before anything runs, the input's
 * header goes through the cost model (413 `work_too_large`) and the request through admission
 * (budget, run slots, the tenant's in-flight work, the `Idempotency-Key`'s binding). Inputs of
 * edge-capable models within the edge bounds run inside the Worker (worker/edge/); the rest on an
 * inference node, under the one-shot deadline, which a client that hangs up ends at once.
 *
 * Charging (docs/billing.md): the result is stored under the key (when there is one), then
 * charged in the ledger, then sent; nothing is sent that the ledger has not charged, and a replay
 * of the key answers the stored result with its first charge.
 */
import {
  AppError,
  InputError,
  MODEL_REFERENCE,
  ONE_SHOT_OPTIONS,
  REFERENCE_SYNTAX,
  type RunFormat,
  type RunRequest,
} from '../../engine/edge.js';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../app-env.js';
import type { ModelPrice } from '../billing/price.js';
import type { CancelResult, Charge, RecordResult } from '../billing/ledger-types.js';
import { resolveModel, type ModelRelease } from '../catalog/model-catalog.js';
import type { ApiConfig } from '../config.js';
import { admitRun, idempotencyKeyOf, priceFor, requestFingerprint } from '../jobs/admission.js';
import { sha256OfBytes } from '../uploads/read-chunk.js';
import { bodyGeometry, bodyVoxelBound, reserveWork } from '../jobs/work-check.js';
import { ConflictError, GoneError, ServiceUnavailableError, TimeoutError } from '../http-errors.js';
import { requestBytes } from '../http-body.js';
import { requireScope, tenantOf } from '../middleware/auth.js';
import { segmentAtEdge } from '../edge/edge-segment.js';
import { readRun, startRun, type RunAsked } from '../nodes/remote-run.js';
import { rankNodes } from '../nodes/placement.js';
import { log } from '../log.js';
import { resultFormat } from '../media-types.js';
import { problemResponses } from '../problem.js';
import { BEARER, newRouter } from '../router.js';

/** A finished result, wherever it ran. */
interface Answer {
  body: Uint8Array<ArrayBuffer> | ArrayBuffer | ReadableStream<Uint8Array>;
  contentType: string;
  voxels: number;
  placement: 'edge' | 'node';
  /** Modality warnings, sent as the JSON array `X-Input-Warnings` when there are any. */
  warnings: string[];
  /** The model id and release that ran (`X-Model`, `X-Model-Version`). */
  model: string;
  modelVersion: string;
}

/** R2 key of a one-shot's stored result, kept for replays of its `Idempotency-Key`. */
const storedResultKey = (tenant: string, jobId: string) => `oneshot/${encodeURIComponent(tenant)}/${jobId}`;

const binary = z.string().openapi({ format: 'binary' });

const segment = createRoute({
  method: 'post',
  path: '/v1/segment',
  summary: 'Segment a small image in one request',
  description:
    'Body: NIfTI (.nii, .nii.gz), a DICOM file or a zip of a series, PNG or JPEG, at most the body cap (32 MiB by default). ' +
    '`Accept` picks the answer: `application/gzip` (NIfTI label map, the default), `image/png` (2D ' +
    'inputs) or `application/json` (per-label statistics). Small inputs of edge-capable models run ' +
    'inside the Worker, the rest on an inference node (`X-Placement` says which). Charged once per delivered result. ' +
    'With an `Idempotency-Key`, the result is kept for the result lifetime: a repeat of the same request answers it again ' +
    '(`Idempotent-Replayed: true`, the first charge, no new one), the same key with another request is 422, and a repeat while ' +
    'the first still runs is 409. An input the engine refuses answers 413, 415 or 422 ' +
    "with the engine's own stable code as the problem type (e.g. `unknown_format`, `work_too_large`).",
  security: BEARER,
  middleware: [requireScope('jobs')] as const,
  request: {
    query: z.object({
      model: z.string().regex(MODEL_REFERENCE, REFERENCE_SYNTAX).openapi({
        example: 'brain-wm-2d',
        description: '`<id>` (its current release) or `<id>@<version>` (one release, e.g. brain-wm-2d@1.2.0)',
      }),
    }),
    headers: z.object({ 'idempotency-key': z.string().optional() }),
    body: { required: true, content: { 'application/octet-stream': { schema: binary } } },
  },
  responses: {
    200: {
      description:
        'The label map or its statistics; `X-Charge-Micros` and `X-Voxels` say what was billed, ' +
        '`X-Placement` where it ran (`edge`: in the Worker, `node`: on an inference node), `X-Model` and ' +
        '`X-Model-Version` the model id and the release that ran, and ' +
        "`X-Input-Warnings` (a JSON array of sentences), when present, that the input plainly does not fit the model's modality " +
        '(e.g. a JPEG radiograph given to an MR model) or had NaN or infinite voxels, read as 0: it still ran and was charged',
      content: {
        'application/gzip': { schema: binary },
        'image/png': { schema: binary },
        'application/json': { schema: z.object({ labels: z.array(z.any()) }).passthrough() },
      },
    },
    ...problemResponses(
      'unauthorized',
      'insufficient_scope',
      'budget_exceeded',
      'model_not_found',
      'model_not_priced',
      'concurrency_limit',
      'not_acceptable',
      'idempotency_key_reused',
      'idempotency_key_in_flight',
      'charge_unsettled',
      'result_gone',
      'work_too_large',
      'request_body_incomplete',
      'no_inference_node',
      'run_timeout',
    ),
  },
});

/** The `/v1/segment` route. */
export const segmentRoutes = newRouter().openapi(segment, async (c) => {
  const { model } = c.req.valid('query');
  const tenant = tenantOf(c);
  const config = c.get('config');
  const format = resultFormat(c.req.header('Accept'));
  const idempotencyKey = idempotencyKeyOf(c.req.header('Idempotency-Key'));
  // A request without a key has no replay to find, so an unknown or unpriced model is answered
  // before its body is read; a keyed one needs the body's hash to ask for its replay first.
  const early = idempotencyKey === null ? await releaseAndPrice(c, model) : null;
  const body = await requestBytes(c);
  const fingerprint =
    idempotencyKey === null
      ? ''
      : await requestFingerprint({
          operation: 'segment',
          // The reference as asked: a key sent with `<id>` replays its first result after the
          // current release changes, and is another request than `<id>@<version>`.
          model,
          format,
          ...ONE_SHOT_OPTIONS,
          input_sha256: await sha256OfBytes(body),
        });
  // A retry whose first answer was lost gets its charged result before anything that may have
  // changed since (the release, the price) is checked again.
  const bound =
    idempotencyKey && (await c.env.LEDGER.getByName(tenant).replayOf(idempotencyKey, fingerprint));
  if (bound) return replay(c, tenant, bound.job_id, bound.charge, config);
  const { release, price } = early ?? (await releaseAndPrice(c, model));
  const manifest = release.manifest;
  if (body.byteLength === 0) throw new InputError('empty_input', 'The request body is empty.');
  const geometry = bodyGeometry(body);
  const work = reserveWork(config, manifest, geometry, ONE_SHOT_OPTIONS, bodyVoxelBound(body), body.length);
  const jobId = `segment-${crypto.randomUUID()}`;
  const now = Date.now();
  // A slot whose Worker died is taken back once the run could no longer be going.
  const expiresAt = now + (config.oneShotSeconds + 60) * 1000;
  const admitted = await admitRun(c.env, {
    tenant,
    jobId,
    price,
    reserveVoxels: work.chargeVoxels,
    reserveExact: work.estimate !== null,
    operation: 'segment',
    idempotency_key: idempotencyKey,
    fingerprint,
    evaluations: work.evaluations,
    limit: config.maxConcurrentJobs,
    max_evaluations: config.maxTenantEvaluations,
    now,
    expires_at: expiresAt,
  });
  if (admitted.kind === 'replay') return replay(c, tenant, admitted.job_id, admitted.charge, config);
  try {
    const edge = await segmentAtEdge(
      { models: c.env.MODELS, config, kernels: c.get('kernels') },
      { model: release.reference, format, body, requestId: c.get('requestId'), estimate: work.estimate },
    );
    const answer: Answer = edge
      ? {
          body: edge.bytes,
          contentType: edge.contentType,
          voxels: edge.voxels,
          placement: 'edge',
          warnings: edge.warnings,
          model: release.id,
          modelVersion: release.version,
        }
      : await runOnNodes(
          c,
          config,
          release,
          { model: release.reference, format, ...ONE_SHOT_OPTIONS, requestId: c.get('requestId') },
          body,
          {
            id: release.id,
            version: release.version,
            format,
            shape: geometry?.shape ?? null,
            maxVoxels: work.chargeVoxels,
            // The answer is held whole, as the request was: the same ceiling.
            maxBytes: config.maxBodyBytes,
          },
        );
    return await deliver(c, { tenant, jobId, idempotencyKey, price, format, answer, expiresAt });
  } finally {
    // A failed release must not turn a charged result into an error (found by review): the slot
    // is then taken back at its expiry.
    try {
      await c.env.LEDGER.getByName(tenant).release(jobId);
    } catch (err) {
      log('warn', 'slot_release_failed', {
        request_id: c.get('requestId'),
        job_id: jobId,
        error: String(err),
      });
    }
  }
});

/** The release `model` names and its price: 404 for an unknown model, 409 for one without a price. */
async function releaseAndPrice(
  c: Context<AppEnv>,
  model: string,
): Promise<{ release: ModelRelease; price: ModelPrice }> {
  const release = resolveModel(model);
  return { release, price: await priceFor(c.env, c.get('config'), release.id) };
}

/** Runs on the best node that takes it, under the one-shot deadline; a client that hangs up stops it. */
async function runOnNodes(
  c: Context<AppEnv>,
  config: ApiConfig,
  release: ModelRelease,
  request: RunRequest & { requestId: string },
  body: Uint8Array,
  asked: RunAsked,
): Promise<Answer> {
  const deadline = Date.now() + config.oneShotSeconds * 1000;
  const timeout = AbortSignal.timeout(config.oneShotSeconds * 1000);
  const signal = AbortSignal.any([c.req.raw.signal, timeout]);
  signal.addEventListener('abort', () =>
    log('info', timeout.aborted ? 'run_timeout' : 'client_disconnected', {
      request_id: c.get('requestId'),
      during: 'node run',
    }),
  );
  const timedOut = () =>
    new TimeoutError(
      'run_timeout',
      `The run did not finish within ${config.oneShotSeconds} s; it was stopped and not charged.`,
    );
  let saturated = 0;
  // The last node's 413: over that node's limits, not necessarily the next one's.
  let overLimit: AppError | null = null;
  try {
    const preferGpu = release.manifest.prefers_gpu === true;
    for (const node of await rankNodes(config.inferenceNodes, config.nodeToken, { preferGpu, release })) {
      const start = await startRun(
        node,
        { ...request, deadlineMs: deadline - Date.now() },
        body,
        config.nodeToken,
        signal,
      );
      if (start.kind === 'saturated') {
        saturated = Math.max(saturated, start.retryAfterSeconds);
        continue;
      }
      if (start.kind === 'over_node_limit') {
        log('warn', 'node_refused', { request_id: c.get('requestId'), node, code: start.error.code });
        overLimit = new AppError(start.error.code, start.error.status, start.error.detail);
        continue;
      }
      if (start.kind === 'rejected')
        throw new AppError(start.error.code, start.error.status, start.error.detail);
      if (start.kind === 'failed') continue;
      const parts: Uint8Array[] = [];
      let warnings: string[] = [];
      const outcome = await readRun(
        start.response,
        {
          progress: () => {},
          meta: (m) => void (warnings = m.warnings ?? []),
          data: (bytes) => void parts.push(bytes),
        },
        asked,
      );
      if (signal.aborted) throw signal.reason;
      if (outcome.kind === 'rejected') {
        throw new AppError(outcome.error.code, outcome.error.status, outcome.error.detail);
      }
      if (outcome.kind === 'over_node_limit') {
        log('warn', 'node_refused', { request_id: c.get('requestId'), node, code: outcome.error.code });
        overLimit = new AppError(outcome.error.code, outcome.error.status, outcome.error.detail);
        continue;
      }
      if (outcome.kind === 'failed') continue;
      return {
        body: await new Blob(parts).arrayBuffer(),
        contentType: outcome.meta.content_type,
        voxels: outcome.meta.voxels,
        placement: 'node',
        warnings,
        // The node names the release it ran; older nodes do not, and ran the one asked for.
        model: outcome.end.model ?? release.id,
        modelVersion: outcome.end.model_version ?? release.version,
      };
    }
  } catch (err) {
    if (timeout.aborted) throw timedOut();
    throw err;
  }
  if (saturated > 0) {
    throw new ServiceUnavailableError('no_inference_node', 'Every inference node is busy.', saturated);
  }
  // A node found the input over its limits and no node took it: that is the input's answer.
  if (overLimit) throw overLimit;
  throw new ServiceUnavailableError('no_inference_node', 'No inference node could run the request.', 5);
}

/**
 * Stores the result for replays (with a key), charges it, then sends it: a result leaves only
 * against its recorded charge. A run whose key was taken over meanwhile is neither charged nor sent.
 */
async function deliver(
  c: Context<AppEnv>,
  run: {
    tenant: string;
    jobId: string;
    idempotencyKey: string | null;
    price: ModelPrice;
    format: RunFormat;
    answer: Answer;
    /** The slot's expiry: past it, nothing can still record this run. */
    expiresAt: number;
  },
): Promise<Response> {
  const { answer } = run;
  // A client that hung up during the run would never receive the result: nothing is charged
  // (docs/billing.md). The node path stops on the same signal; this also covers the edge run.
  const client = c.req.raw.signal;
  if (client.aborted) {
    log('info', 'client_disconnected', { request_id: c.get('requestId'), during: `${answer.placement} run` });
    throw client.reason;
  }
  if (run.idempotencyKey !== null) {
    await storeForReplay(c, run, answer);
  }
  let recorded: RecordResult;
  try {
    recorded = await c.env.LEDGER.getByName(run.tenant).record({
      label: null,
      job_id: run.jobId,
      idempotency_key: run.idempotencyKey,
      model: answer.model,
      model_version: answer.modelVersion,
      voxels: answer.voxels,
      price: run.price,
      at: Date.now(),
    });
  } catch (err) {
    recorded = await settleLostRecord(c, run, err);
  }
  if (recorded.kind === 'cancelled') {
    // A one-shot's run id is cancelled only by settleLostRecord, after its own record failed, and
    // nothing records it again: this is a bug, answered 500 and not charged.
    throw new Error(`one-shot ${run.jobId} found cancelled in the ledger`);
  }
  if (recorded.kind === 'superseded') {
    await c.env.RESULTS.delete(storedResultKey(run.tenant, run.jobId));
    throw new ConflictError(
      'idempotency_key_in_flight',
      'A newer request with this Idempotency-Key took over; retry to get its result.',
      { 'Retry-After': '2' },
    );
  }
  return resultResponse(c, answer, recorded.charge, run.format, false);
}

/** Waits between the tries of `settleLostRecord` (ms). */
const SETTLE_WAITS_MS = [0, 250, 1000];

/**
 * `record` failed, perhaps after its charge landed (a Durable Object call can fail after its write:
 * found by review, a client was charged and answered 500). The ledger's `cancel` settles which: the
 * charge is there, and the result is sent with it; or the run is marked, so that no late `record`
 * can charge it, and the client is told to retry (503 `charge_unsettled`, nothing charged). When the
 * ledger cannot be asked at all, the same 503 says the charge is unknown: a retry with the key gets
 * the result if it was charged; a request without a key cannot (docs/billing.md).
 */
async function settleLostRecord(
  c: Context<AppEnv>,
  run: { tenant: string; jobId: string; idempotencyKey: string | null; expiresAt: number },
  cause: unknown,
): Promise<RecordResult> {
  const ledger = c.env.LEDGER.getByName(run.tenant);
  for (const wait of SETTLE_WAITS_MS) {
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    let settled: CancelResult;
    try {
      settled = await ledger.cancel(run.jobId, Date.now(), run.expiresAt);
    } catch {
      continue;
    }
    if (settled.kind === 'charged') return { kind: 'charged', charge: settled.charge, duplicate: true };
    // Best effort: no replay can reach an uncharged result, and the bucket's lifecycle rule ends it.
    if (run.idempotencyKey !== null) {
      await c.env.RESULTS.delete(storedResultKey(run.tenant, run.jobId)).catch(() => {});
    }
    log('warn', 'charge_not_recorded', {
      request_id: c.get('requestId'),
      job_id: run.jobId,
      error: String(cause),
    });
    throw new ServiceUnavailableError(
      'charge_unsettled',
      'The charge for this run could not be recorded, so its result was not sent and nothing was charged; retry.',
      2,
    );
  }
  // Operators reconcile from this line: the run may have been charged without its result being sent.
  log('error', 'charge_unknown', { request_id: c.get('requestId'), job_id: run.jobId, error: String(cause) });
  throw new ServiceUnavailableError(
    'charge_unsettled',
    run.idempotencyKey === null
      ? 'It is not known whether this run was charged; its result was not sent. Without an Idempotency-Key it cannot be fetched again.'
      : 'It is not known whether this run was charged; retry with the same Idempotency-Key to get its result if it was.',
    5,
  );
}

/** Answers a replay with the first run's stored result and charge. */
async function replay(
  c: Context<AppEnv>,
  tenant: string,
  jobId: string,
  charge: Charge | null,
  config: ApiConfig,
): Promise<Response> {
  const gone = () =>
    new GoneError(
      'result_gone',
      'The result of this Idempotency-Key has expired; it was charged once. Use a new key to run again.',
    );
  if (!charge || charge.charged_at + config.resultTtlSeconds * 1000 < Date.now()) throw gone();
  const object = await c.env.RESULTS.get(storedResultKey(tenant, jobId));
  if (!object) throw gone();
  const meta = object.customMetadata ?? {};
  const answer: Answer = {
    // Streamed from R2: a replay holds no copy of the result in the isolate.
    body: object.body,
    contentType: object.httpMetadata?.contentType ?? 'application/octet-stream',
    voxels: Number(meta.voxels),
    placement: meta.placement === 'edge' ? 'edge' : 'node',
    warnings: meta.warnings ? (JSON.parse(meta.warnings) as string[]) : [],
    // Results stored before versions have neither: the charge still names the model.
    model: meta.model ?? charge.model,
    modelVersion: meta.model_version ?? charge.model_version ?? '',
  };
  return resultResponse(c, answer, charge, meta.format as RunFormat, true);
}

/**
 * Keeps a keyed run's result for its replays, before the charge: a store that fails is a 503 with
 * nothing charged, which the client may send again with the same key.
 */
async function storeForReplay(
  c: Context<AppEnv>,
  run: { tenant: string; jobId: string; format: RunFormat },
  answer: Answer,
): Promise<void> {
  try {
    await c.env.RESULTS.put(storedResultKey(run.tenant, run.jobId), answer.body, {
      httpMetadata: { contentType: answer.contentType },
      customMetadata: {
        voxels: String(answer.voxels),
        placement: answer.placement,
        format: run.format,
        warnings: JSON.stringify(answer.warnings),
        model: answer.model,
        model_version: answer.modelVersion,
      },
    });
  } catch (err) {
    log('warn', 'result_store_failed', { request_id: c.get('requestId'), error: String(err) });
    throw new ServiceUnavailableError(
      'service_unavailable',
      'The result could not be kept for replays, so it was not delivered and nothing was charged; send the request again.',
      2,
    );
  }
}

function resultResponse(
  c: Context<AppEnv>,
  answer: Answer,
  charge: Charge,
  format: RunFormat,
  replayed: boolean,
): Response {
  const headers: Record<string, string> = {
    'Content-Type': answer.contentType,
    'X-Charge-Micros': String(charge.amount_micros),
    'X-Voxels': String(answer.voxels),
    'X-Placement': answer.placement,
    'X-Model': answer.model,
    'Cache-Control': 'private, no-store',
  };
  if (answer.modelVersion) headers['X-Model-Version'] = answer.modelVersion;
  if (replayed) headers['Idempotent-Replayed'] = 'true';
  if (answer.warnings.length > 0) headers['X-Input-Warnings'] = JSON.stringify(answer.warnings);
  if (format === 'nifti') headers['Content-Disposition'] = 'attachment; filename="labels.nii.gz"';
  return c.body(answer.body, 200, headers);
}
