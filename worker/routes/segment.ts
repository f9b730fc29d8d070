/**
 * @module
 * `POST /v1/segment`: one-shot segmentation of a small input (the body cap), answered by `Accept`
 * with a NIfTI label map, a PNG (2D inputs) or JSON statistics. Inputs of edge-capable models under
 * the edge budget run inside the Worker (worker/edge/); the rest, and any edge run that cannot
 * finish, go to an inference node. The body is held in memory (it is capped), so a node that dies
 * mid-run is replaced by the next one; the result is charged once it is complete, before it is sent.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { AppError, InputError } from '../../engine/errors.js';
import { admitJob, idempotencyKeyOf, priceFor } from '../jobs/admission.js';
import { HttpError, ServiceUnavailableError } from '../http-errors.js';
import { requireScope, tenantOf } from '../middleware/auth.js';
import { segmentAtEdge } from '../edge/edge-segment.js';
import { readRun, startRun, type RunRequest } from '../nodes/remote-run.js';
import { rankNodes } from '../nodes/placement.js';
import { problemResponses } from '../problem.js';
import { BEARER, newRouter } from '../router.js';

const FORMATS: Record<string, RunRequest['format']> = {
  'application/gzip': 'nifti',
  'application/x-nifti': 'nifti',
  'application/json': 'json',
  'image/png': 'png',
  '*/*': 'nifti',
};

/** The first media type of `Accept` we can produce (no header: NIfTI); 406 when none is. */
export function formatFor(accept: string | undefined): RunRequest['format'] {
  if (!accept) return 'nifti';
  for (const part of accept.split(',')) {
    const format = FORMATS[part.split(';')[0].trim().toLowerCase()];
    if (format) return format;
  }
  throw new HttpError(
    'not_acceptable',
    406,
    `Results come as ${Object.keys(FORMATS)
      .filter((t) => t !== '*/*')
      .join(', ')}.`,
  );
}

/** A finished result, wherever it ran. */
interface Answer {
  body: Uint8Array<ArrayBuffer> | ArrayBuffer;
  contentType: string;
  voxels: number;
  placement: 'edge' | 'node';
}

const binary = z.string().openapi({ format: 'binary' });

const segment = createRoute({
  method: 'post',
  path: '/v1/segment',
  summary: 'Segment a small image in one request',
  description:
    'Body: NIfTI (.nii, .nii.gz), a DICOM file or a zip of a series, PNG or JPEG, at most the body cap (32 MiB by default). ' +
    '`Accept` picks the answer: `application/gzip` (NIfTI label map, the default), `image/png` (2D ' +
    'inputs) or `application/json` (per-label statistics). Small inputs of edge-capable models run ' +
    'inside the Worker, the rest on an inference node (`X-Placement` says which). Charged once per success; a repeat with the ' +
    'same `Idempotency-Key` is not charged again. An input the engine refuses answers 413, 415 or 422 ' +
    "with the engine's own stable code as the problem type (e.g. `unknown_format`, `too_many_voxels`).",
  security: BEARER,
  middleware: [requireScope('jobs')] as const,
  request: {
    query: z.object({ model: z.string().min(1).openapi({ example: 'brain-wm-2d' }) }),
    headers: z.object({ 'idempotency-key': z.string().optional() }),
    body: { required: true, content: { 'application/octet-stream': { schema: binary } } },
  },
  responses: {
    200: {
      description:
        'The label map or its statistics; `X-Charge-Micros` and `X-Voxels` say what was billed, ' +
        '`X-Placement` where it ran (`edge`: in the Worker, `node`: on an inference node)',
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
      'no_inference_node',
    ),
  },
});

/** The `/v1/segment` route. */
export const segmentRoutes = newRouter().openapi(segment, async (c) => {
  const { model } = c.req.valid('query');
  const tenant = tenantOf(c);
  const config = c.get('config');
  const format = formatFor(c.req.header('Accept'));
  const idempotencyKey = idempotencyKeyOf(c.req.header('Idempotency-Key'));
  const price = await priceFor(c.env, config, model);
  const body = new Uint8Array(await c.req.arrayBuffer());
  if (body.byteLength === 0) throw new InputError('empty_input', 'The request body is empty.');
  const jobId = `segment-${crypto.randomUUID()}`;
  await admitJob(c.env, {
    tenant,
    jobId,
    idempotencyKey: null,
    fingerprint: '',
    price,
    limit: config.maxConcurrentJobs,
    staleAfterMs: config.maxJobSeconds * 1000 * 2,
    now: Date.now(),
  });
  try {
    // Charged once, after success, wherever it ran.
    const answer = async (result: Answer) => {
      const { charge } = await c.env.LEDGER.getByName(tenant).record({
        job_id: jobId,
        idempotency_key: idempotencyKey,
        model,
        voxels: result.voxels,
        price,
        at: Date.now(),
      });
      const headers: Record<string, string> = {
        'Content-Type': result.contentType,
        'X-Charge-Micros': String(charge.amount_micros),
        'X-Voxels': String(result.voxels),
        'X-Placement': result.placement,
        'Cache-Control': 'private, no-store',
      };
      if (format === 'nifti') headers['Content-Disposition'] = 'attachment; filename="labels.nii.gz"';
      return c.body(result.body, 200, headers) as never;
    };

    const edge = await segmentAtEdge(
      { models: c.env.MODELS, config, kernels: c.get('kernels') },
      { model, format, body, requestId: c.get('requestId') },
    );
    if (edge) {
      const { bytes, contentType, voxels } = edge;
      return answer({ body: bytes, contentType, voxels, placement: 'edge' });
    }

    const signal = AbortSignal.timeout(config.maxJobSeconds * 1000);
    const request: RunRequest = { model, format, tta: true, refine: false, requestId: c.get('requestId') };
    let saturated = 0;
    for (const node of await rankNodes(config.inferenceNodes, config.nodeToken)) {
      const start = await startRun(node, request, body, config.nodeToken, signal);
      if (start.kind === 'saturated') {
        saturated = Math.max(saturated, start.retryAfterSeconds);
        continue;
      }
      if (start.kind === 'rejected')
        throw new AppError(start.error.code, start.error.status, start.error.detail);
      if (start.kind === 'failed') continue;
      const parts: Uint8Array[] = [];
      const outcome = await readRun(start.response, {
        progress: () => {},
        meta: () => {},
        data: (bytes) => void parts.push(bytes),
      });
      if (outcome.kind === 'rejected') {
        throw new AppError(outcome.error.code, outcome.error.status, outcome.error.detail);
      }
      if (outcome.kind === 'failed') continue;
      return answer({
        body: await new Blob(parts).arrayBuffer(),
        contentType: outcome.meta.content_type,
        voxels: outcome.meta.voxels,
        placement: 'node',
      });
    }
    if (saturated > 0) {
      throw new ServiceUnavailableError('no_inference_node', 'Every inference node is busy.', saturated);
    }
    throw new ServiceUnavailableError('no_inference_node', 'No inference node could run the request.', 5);
  } finally {
    await c.env.LEDGER.getByName(tenant).release(jobId);
  }
});
