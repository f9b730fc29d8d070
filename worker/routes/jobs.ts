/**
 * @module
 * Jobs over complete uploads: create (202, idempotent with `Idempotency-Key`), read, follow as
 * server-sent events, download the label map (with Range), and cancel-and-delete. Each job lives in
 * one {@link JobRunner} Durable Object named by tenant and id, so another tenant's id finds nothing.
 */
import {
  MODEL_REFERENCE,
  NotFoundError,
  parseModelReference,
  REFERENCE_SYNTAX,
  type DeclaredGeometry,
} from '../../engine/edge.js';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { AppEnv } from '../app-env.js';
import { ConflictError, GrantError, ServiceUnavailableError, UnauthorizedError } from '../http-errors.js';
import { admitRun, idempotencyKeyOf, ledgerKeyOf, priceFor, requestFingerprint } from '../jobs/admission.js';
import { resolveModel } from '../catalog/model-catalog.js';
import { declaredGeometry, HEADER_PREFIX_BYTES, reserveWork, uploadVoxelBound } from '../jobs/work-check.js';
import { parseByteRange } from '../jobs/byte-range.js';
import { CANCEL_MARK_MS, isFinal, jobObjectName, resultKey, type JobState } from '../jobs/job-types.js';
import { credentialStillLive, requireScope, tenantOf, tokenIdOf } from '../middleware/auth.js';
import { outliveClient } from '../outlive-client.js';
import { problemResponses } from '../problem.js';
import { BEARER, newRouter } from '../router.js';
import { uploadDataKey } from '../uploads/upload-types.js';

/** How often the event stream looks at the job. */
const EVENT_POLL_MS = 250;
// How often an event stream checks its credential again: every 2 s (a KV read or a token's object).
const RECHECK_EVERY_POLLS = 8;

export const JobCreate = z
  .object({
    upload_id: z.string().uuid(),
    model: z.string().regex(MODEL_REFERENCE, REFERENCE_SYNTAX).openapi({
      example: 'brain-wm-2d',
      description: '`<id>` (its current release) or `<id>@<version>` (one release, e.g. brain-wm-2d@1.2.0)',
    }),
    options: z
      .strictObject(
        { tta: z.boolean().default(true).openapi({ description: 'Mirroring test-time augmentation' }) },
        {
          // `refine` was an option until the refinement was measured to lower Dice (issue 13).
          error: (iss) =>
            iss.code === 'unrecognized_keys'
              ? `options takes only tta, not ${iss.keys.join(', ')}` +
                (iss.keys.includes('refine')
                  ? '; refine was removed: it lowered Dice on the shipped models (docs/method.md)'
                  : '')
              : undefined,
        },
      )
      .default({ tta: true }),
  })
  .openapi('JobCreate');

export const Job = z
  .object({
    id: z.string().uuid(),
    status: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']),
    model: z.string().openapi({ description: 'The model id the reference resolved to' }),
    model_version: z.string().nullable().openapi({
      description: 'The release the job runs, fixed at creation; null for jobs created before versions',
    }),
    upload_id: z.string(),
    options: z.object({ tta: z.boolean() }),
    progress: z.object({
      stage: z.string(),
      done: z.number(),
      total: z.number(),
      fraction: z.number().openapi({ description: '0 to 1' }),
    }),
    attempts: z.number().int(),
    created_at: z.string().datetime(),
    started_at: z.string().datetime().nullable(),
    finished_at: z.string().datetime().nullable(),
    expires_at: z.string().datetime(),
    error: z.object({ type: z.string(), status: z.number().int(), detail: z.string() }).nullable(),
    result: z.object({ href: z.string(), bytes: z.number().int(), content_type: z.string() }).nullable(),
    shape: z.array(z.number().int()).nullable(),
    voxels: z.number().int().nullable(),
    stats: z.array(z.any()).nullable(),
    charge: z.object({ amount_micros: z.number().int(), currency: z.string() }).nullable(),
    timings_ms: z.object({ total: z.number(), model: z.number(), queued: z.number() }).nullable(),
    device: z
      .object({
        requested: z
          .string()
          .openapi({ description: 'The device the node was asked for: cpu, webgpu or wasm' }),
        provider: z.string().openapi({ description: 'The execution provider that ran the model' }),
        adapter: z
          .string()
          .nullable()
          .openapi({ description: "The node's WebGPU adapter, e.g. a GPU's name" }),
        fallback_reason: z
          .string()
          .nullable()
          .openapi({ description: 'Why a WebGPU node ran the model on the CPU provider' }),
      })
      .nullable()
      .openapi({ description: 'Where the model ran; null until the job succeeds' }),
    warnings: z.array(z.string()).openapi({
      description:
        "Sentences about the input: it plainly does not fit the model's modality, or had NaN or infinite voxels read as 0; empty otherwise",
    }),
  })
  .openapi('Job');

const IdParam = z.object({
  id: z
    .string()
    .uuid()
    .openapi({ param: { name: 'id', in: 'path' } }),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The public view of a job. */
function view(j: JobState): z.infer<typeof Job> {
  return {
    id: j.id,
    status: j.status,
    model: j.model,
    model_version: j.model_version ?? null,
    upload_id: j.upload_id,
    options: j.options,
    progress: j.progress,
    attempts: j.attempts,
    created_at: iso(j.created_at)!,
    started_at: iso(j.started_at),
    finished_at: iso(j.finished_at),
    expires_at: iso(j.expires_at)!,
    error: j.error && {
      type: `https://nnsam-edge.dev/problems/${j.error.code}`,
      status: j.error.status,
      detail: j.error.detail,
    },
    result: j.result && { href: `/v1/jobs/${j.id}/result`, ...j.result },
    shape: j.shape,
    voxels: j.voxels,
    stats: j.stats,
    charge: j.charge,
    timings_ms: j.timings_ms,
    device: j.device ?? null,
    warnings: j.warnings ?? [],
  };
}

const notFound = (id: string) => new NotFoundError('job_not_found', `No job ${id}.`);

function stubOf(c: Context<AppEnv>, id: string) {
  return c.env.JOBS.getByName(jobObjectName(tenantOf(c), id));
}

/** The job if the caller may see it: the tenant's keys see all its jobs, a token only its own. */
async function jobOf(c: Context<AppEnv>, id: string): Promise<JobState> {
  const job = await stubOf(c, id).describe(tenantOf(c));
  const tokenId = tokenIdOf(c);
  if (!job || (tokenId !== null && job.token_id !== tokenId)) throw notFound(id);
  return job;
}

const TOKEN_JOBS = { uploadTokens: true };

/** 403 when the caller's upload token may not use model id `model` (a grant covers every version; an API key may use any). */
function assertModelAllowed(c: Context<AppEnv>, model: string): void {
  const grant = c.get('uploadToken');
  if (grant && !grant.models.includes(model)) {
    throw new GrantError('model_not_allowed', `This upload token may not use model '${model}'.`);
  }
}

/**
 * Counts a job against the caller's upload token (none for an API key): 403 past its job limit.
 * Returns the token's label and how to give the job back.
 */
async function spendTokenJob(
  c: Context<AppEnv>,
): Promise<{ label: string | null; refund: () => Promise<void> }> {
  const grant = c.get('uploadToken');
  if (!grant) return { label: null, refund: async () => {} };
  const token = c.env.UPLOAD_TOKENS.getByName(grant.id);
  const spent = await token.spendJob(Date.now());
  if (spent.kind === 'gone') throw new UnauthorizedError('The upload token is unknown, expired or revoked.');
  if (spent.kind === 'limit') {
    throw new GrantError(
      'token_job_limit',
      `This upload token may create ${spent.max} jobs and has created them all.`,
    );
  }
  return { label: grant.label, refund: () => token.refundJob() };
}

const create = createRoute({
  method: 'post',
  path: '/v1/jobs',
  summary: 'Segment a complete upload (asynchronous)',
  description:
    'Answers 202 with the job. A repeat with the same `Idempotency-Key` answers 200 with the first job ' +
    '(and `Idempotent-Replayed: true`); the same key with another request is refused.',
  security: BEARER,
  middleware: [requireScope('jobs', TOKEN_JOBS)] as const,
  request: {
    headers: z.object({ 'idempotency-key': z.string().optional() }),
    body: { required: true, content: { 'application/json': { schema: JobCreate } } },
  },
  responses: {
    202: { description: 'Accepted', content: { 'application/json': { schema: Job } } },
    200: { description: 'A replay of an earlier request', content: { 'application/json': { schema: Job } } },
    ...problemResponses(
      'unauthorized',
      'insufficient_scope',
      'budget_exceeded',
      'model_not_found',
      'upload_not_found',
      'upload_incomplete',
      'model_not_priced',
      'idempotency_key_reused',
      'idempotency_key_in_flight',
      'work_too_large',
      'concurrency_limit',
      'model_not_allowed',
      'unsupported_media_type',
      'token_job_limit',
      'job_creation_unsettled',
    ),
  },
});

const describe = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}',
  summary: 'A job: state, progress, result, charge',
  security: BEARER,
  middleware: [requireScope('jobs', TOKEN_JOBS)] as const,
  request: { params: IdParam },
  responses: {
    200: { description: 'The job', content: { 'application/json': { schema: Job } } },
    ...problemResponses('unauthorized', 'insufficient_scope', 'job_not_found'),
  },
});

const events = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}/events',
  summary: 'Progress as server-sent events',
  description:
    'Events `progress` (the job, whenever it changes) until one final event named after the final ' +
    'status (`succeeded`, `failed`, `cancelled`) or `deleted`; then the stream ends.',
  security: BEARER,
  middleware: [requireScope('jobs', TOKEN_JOBS)] as const,
  request: { params: IdParam },
  responses: {
    200: { description: 'An event stream', content: { 'text/event-stream': { schema: z.string() } } },
    ...problemResponses('unauthorized', 'insufficient_scope', 'job_not_found'),
  },
});

const result = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}/result',
  summary: 'The label map (NIfTI .nii.gz), with Range support',
  security: BEARER,
  middleware: [requireScope('jobs', TOKEN_JOBS)] as const,
  request: { params: IdParam },
  responses: {
    200: {
      description: 'The label map',
      content: { 'application/gzip': { schema: z.string().openapi({ format: 'binary' }) } },
    },
    206: {
      description: 'A byte range of it',
      content: { 'application/gzip': { schema: z.string().openapi({ format: 'binary' }) } },
    },
    ...problemResponses(
      'unauthorized',
      'insufficient_scope',
      'job_not_found',
      'result_not_ready',
      'range_not_satisfiable',
    ),
  },
});

const remove = createRoute({
  method: 'delete',
  path: '/v1/jobs/{id}',
  summary: 'Cancel a job (uncharged unless it had finished) and delete it and its result',
  security: BEARER,
  middleware: [requireScope('jobs', TOKEN_JOBS)] as const,
  request: { params: IdParam },
  responses: {
    204: { description: 'Cancelled and deleted' },
    ...problemResponses('unauthorized', 'insufficient_scope', 'job_not_found'),
  },
});

/**
 * The job a replayed key names. A retry racing its first request can arrive between the first's
 * admission and the creation of its job (milliseconds): while the first still holds its slot, it
 * waits for the job briefly, then answers 409 `idempotency_key_in_flight`, which clients retry. A
 * job that is gone (deleted) is 404.
 */
async function firstJob(c: Context<AppEnv>, tenant: string, id: string): Promise<JobState> {
  const stub = c.env.JOBS.getByName(jobObjectName(tenant, id));
  for (let i = 0; i < 40; i++) {
    const job = await stub.describe(tenant);
    if (job) return job;
    if (!(await c.env.LEDGER.getByName(tenant).isRunning(id))) throw notFound(id);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new ConflictError(
    'idempotency_key_in_flight',
    'The first request with this Idempotency-Key is still creating its job; retry.',
    { 'Retry-After': '1' },
  );
}

/**
 * The geometry an upload's header declares, read from its first bytes (null when they do not tell),
 * and for a zip the most voxels its directory allows (worker/jobs/work-check.ts).
 */
async function uploadGeometry(
  bucket: R2Bucket,
  key: string,
): Promise<{ geometry: DeclaredGeometry | null; voxelBound: number | null }> {
  const object = await bucket.get(key, { range: { offset: 0, length: HEADER_PREFIX_BYTES } });
  if (!object) return { geometry: null, voxelBound: null };
  const head = new Uint8Array(await object.arrayBuffer());
  return { geometry: declaredGeometry(head, true), voxelBound: await uploadVoxelBound(bucket, key, head) };
}

/** The answer to a replayed Idempotency-Key: the first job, as it is now. */
async function replayJob(c: Context<AppEnv>, tenant: string, id: string) {
  const first = await firstJob(c, tenant, id);
  c.header('Idempotent-Replayed', 'true');
  c.header('Location', `/v1/jobs/${first.id}`);
  return c.json(view(first), 200);
}

/** The `/v1/jobs` routes. */
export const jobRoutes = newRouter()
  .openapi(create, async (c) => {
    const body = c.req.valid('json');
    const tenant = tenantOf(c);
    const config = c.get('config');
    const tokenId = tokenIdOf(c);
    const idempotencyKey = ledgerKeyOf(idempotencyKeyOf(c.req.header('Idempotency-Key')), tokenId);
    // An upload's bytes are fixed once it is complete: its id stands for its SHA-256.
    const fingerprint =
      idempotencyKey === null
        ? ''
        : await requestFingerprint({
            operation: 'job',
            // The reference as asked (see the one-shot's fingerprint).
            model: body.model,
            ...body.options,
            upload_id: body.upload_id,
            // A token's keys are its own: it cannot replay a key the tenant's server used.
            ...(tokenId !== null && { token: tokenId }),
          });
    // A retry whose first answer was lost gets its job before anything that may have changed since
    // (the upload, the release, the price) is checked again.
    const bound =
      idempotencyKey && (await c.env.LEDGER.getByName(tenant).replayOf(idempotencyKey, fingerprint));
    if (bound) return replayJob(c, tenant, bound.job_id);
    assertModelAllowed(c, parseModelReference(body.model).id);
    const release = resolveModel(body.model);
    const price = await priceFor(c.env, config, release.id);
    const upload = await c.env.UPLOAD_SESSIONS.getByName(body.upload_id).describe(
      tenant,
      Date.now(),
      tokenId,
    );
    if (!upload) throw new NotFoundError('upload_not_found', `No upload ${body.upload_id}.`);
    if (upload.state !== 'complete') {
      throw new ConflictError(
        'upload_incomplete',
        `Upload ${upload.id} has ${upload.offset} of ${upload.length} bytes.`,
      );
    }
    const inputKey = uploadDataKey(tenant, body.upload_id);
    const { geometry, voxelBound } = await uploadGeometry(c.env.UPLOADS, inputKey);
    const work = reserveWork(config, release.manifest, geometry, body.options, voxelBound, upload.length);
    const id = crypto.randomUUID();
    const now = Date.now();
    // From the key's binding in the ledger to the job's creation, nothing may stop half-way: a
    // client that hangs up in between would leave its key bound to a slot with no job (its retry
    // would answer 409, then 404). The sequence outlives the client (outlive-client.ts).
    // A job abandoned below can never be charged before its would-be deadline has long passed.
    const abandonedUntil = now + config.maxJobSeconds * 1000 + CANCEL_MARK_MS;
    const outcome = await outliveClient(
      c,
      (async (): Promise<{ replayOf: string } | { job: JobState }> => {
        const admitted = await admitRun(c.env, {
          tenant,
          jobId: id,
          price,
          reserveVoxels: work.chargeVoxels,
          reserveExact: work.estimate !== null,
          operation: 'job',
          idempotency_key: idempotencyKey,
          fingerprint,
          evaluations: work.evaluations,
          limit: config.maxConcurrentJobs,
          max_evaluations: config.maxTenantEvaluations,
          now,
          // The runner releases the slot on every way out; this only covers a runner that vanished.
          expires_at: now + config.maxJobSeconds * 1000 * 2,
        });
        // A replay is answered before the token's job count is asked: it creates nothing, and a
        // token that has created all its jobs must still find the one it lost the answer to.
        if (admitted.kind === 'replay') return { replayOf: admitted.job_id };
        let token: Awaited<ReturnType<typeof spendTokenJob>>;
        try {
          token = await spendTokenJob(c);
        } catch (err) {
          await Promise.allSettled([c.env.LEDGER.getByName(tenant).abandon(id, now, abandonedUntil)]);
          throw err;
        }
        try {
          const job = await c.env.JOBS.getByName(jobObjectName(tenant, id)).create({
            id,
            tenant,
            model: release.id,
            model_version: release.version,
            upload_id: body.upload_id,
            input_key: inputKey,
            input_shape: geometry ? [...geometry.shape] : null,
            input_max_voxels: work.chargeVoxels,
            options: body.options,
            idempotency_key: idempotencyKey,
            token_id: tokenId,
            label: token.label,
            price,
            request_id: c.get('requestId'),
            now,
          });
          return { job };
        } catch (err) {
          // A call can fail after its write landed: a job that exists is the answer (a retry may
          // already have been given it by replayOf), never an orphan to abandon.
          let landed: JobState | null;
          try {
            landed = await c.env.JOBS.getByName(jobObjectName(tenant, id)).describe(tenant);
          } catch {
            // Without a key no retry can ever find the job, so it must never be charged: the
            // ledger's mark makes sure, and the token gets its job back (found by review: such a
            // job ran and was charged while its client was told 503). Only if the mark is not set
            // either does it stay unknown.
            if (idempotencyKey === null) {
              const [abandoned] = await Promise.allSettled([
                c.env.LEDGER.getByName(tenant).abandon(id, now, abandonedUntil),
              ]);
              if (abandoned.status === 'fulfilled' && abandoned.value) {
                await Promise.allSettled([token.refund()]);
                throw err;
              }
              if (abandoned.status === 'fulfilled') {
                // Already charged: it was created and ran; its id is all that can lead to it.
                throw new ServiceUnavailableError(
                  'job_creation_unsettled',
                  `The job was created as ${id} and has been charged; read it at /v1/jobs/${id}.`,
                  5,
                );
              }
            }
            // Unknown whether it landed: abandoning could cancel a job a retry was given. The key
            // and slot stay (the slot until its expiry); a retry with the key finds the job or,
            // once the slot has expired, nothing.
            throw new ServiceUnavailableError(
              'job_creation_unsettled',
              'The job may or may not have been created; retry with the same Idempotency-Key.',
              5,
            );
          }
          if (landed) return { job: landed };
          // The creation's error is the answer. The token's job comes back unless the ledger found the
          // job charged (it ran and was deleted meanwhile: its job was spent).
          const [abandoned] = await Promise.allSettled([
            c.env.LEDGER.getByName(tenant).abandon(id, now, abandonedUntil),
          ]);
          if (!(abandoned.status === 'fulfilled' && !abandoned.value))
            await Promise.allSettled([token.refund()]);
          throw err;
        }
      })(),
    );
    if ('replayOf' in outcome) return replayJob(c, tenant, outcome.replayOf);
    const { job } = outcome;
    c.header('Location', `/v1/jobs/${id}`);
    return c.json(view(job), 202);
  })
  .openapi(describe, async (c) => c.json(view(await jobOf(c, c.req.valid('param').id)), 200))
  .openapi(events, async (c) => {
    const { id } = c.req.valid('param');
    const tenant = tenantOf(c);
    const stub = stubOf(c, id);
    let job: JobState | null = await jobOf(c, id);
    const deadline = Date.now() + c.get('config').maxJobSeconds * 1000;
    return streamSSE(c, async (stream) => {
      let last = '';
      let seq = 0;
      let polls = 0;
      while (!stream.aborted && Date.now() < deadline) {
        if (!job) {
          await stream.writeSSE({ event: 'deleted', data: JSON.stringify({ id }), id: String(seq++) });
          return;
        }
        const data = JSON.stringify(view(job));
        if (isFinal(job.status)) {
          await stream.writeSSE({ event: job.status, data, id: String(seq++) });
          return;
        }
        if (data !== last) {
          last = data;
          await stream.writeSSE({ event: 'progress', data, id: String(seq++) });
        }
        await stream.sleep(EVENT_POLL_MS);
        // The credential is checked again now and then: a stream must not outlive a revoked token.
        if (++polls % RECHECK_EVERY_POLLS === 0 && !(await credentialStillLive(c))) return;
        job = await stub.describe(tenant);
      }
    }) as never;
  })
  .openapi(result, async (c) => {
    const { id } = c.req.valid('param');
    const job = await jobOf(c, id);
    if (job.status !== 'succeeded' || !job.result) {
      throw new ConflictError('result_not_ready', `Job ${id} is ${job.status}; it has no result.`);
    }
    const size = job.result.bytes;
    const range = parseByteRange(c.req.header('Range'), size);
    const object = await c.env.RESULTS.get(resultKey(tenantOf(c), id), {
      ...(range && { range: { offset: range.start, length: range.end - range.start + 1 } }),
    });
    if (!object) throw notFound(id);
    const headers: Record<string, string> = {
      'Content-Type': job.result.content_type,
      'Content-Disposition': `attachment; filename="${id}.nii.gz"`,
      'Accept-Ranges': 'bytes',
      ETag: object.httpEtag,
      'Cache-Control': 'private, no-store',
    };
    if (!range) {
      return c.body(object.body, 200, { ...headers, 'Content-Length': String(size) }) as never;
    }
    return c.body(object.body, 206, {
      ...headers,
      'Content-Length': String(range.end - range.start + 1),
      'Content-Range': `bytes ${range.start}-${range.end}/${size}`,
    }) as never;
  })
  .openapi(remove, async (c) => {
    const { id } = c.req.valid('param');
    await jobOf(c, id);
    const removed = await stubOf(c, id).remove(tenantOf(c));
    if (!removed) throw notFound(id);
    return c.body(null, 204);
  });
