/**
 * @module
 * Browser-safe credentials: `POST /v1/upload-tokens` (an API key with the `uploads` and `jobs`
 * scopes) mints a short-lived upload token for one browser, `DELETE /v1/upload-tokens/{id}` revokes
 * it. A token can create uploads and jobs within its grant and read back only those; every other
 * route refuses it (worker/middleware/auth.ts).
 */
import { MODEL_ID, NotFoundError, sha256Hex } from '../../engine/edge.js';
import { createRoute, z } from '@hono/zod-openapi';
import { findModel } from '../catalog/model-catalog.js';
import { MINTING_SCOPES, requireScope, tenantOf } from '../middleware/auth.js';
import { problemResponses } from '../problem.js';
import { BEARER, newRouter } from '../router.js';
import { newUploadToken, type UploadTokenGrant } from '../tokens/upload-token-types.js';

/** A day: a token is meant for one visit of one page, not as a standing credential. */
const MAX_MINUTES = 24 * 60;

export const UploadTokenCreate = z
  .object({
    models: z
      .array(z.string().regex(MODEL_ID))
      .min(1)
      .max(32)
      .openapi({ description: 'Models its jobs may use', example: ['brain-wm-2d'] }),
    max_bytes: z
      .number()
      .int()
      .positive()
      // Kept exact: the ledger adds declared lengths to it.
      .max(Number.MAX_SAFE_INTEGER)
      .openapi({ description: 'Sum of the declared lengths of its uploads', example: 50_000_000 }),
    max_jobs: z.number().int().min(0).max(1000).openapi({ description: 'Jobs it may create', example: 3 }),
    expires_in_minutes: z.number().int().min(1).max(MAX_MINUTES).default(60),
    label: z
      .string()
      .regex(/^[\x20-\x7e]{1,64}$/)
      .optional()
      .openapi({
        description: 'Recorded with the charge of each of its jobs (e.g. a visit or patient reference)',
      }),
  })
  .openapi('UploadTokenCreate');

export const UploadTokenMinted = z
  .object({
    id: z.string().regex(/^[0-9a-f]{16}$/),
    token: z.string().openapi({ description: 'Shown once: `nut_<id>_<secret>`, a Bearer credential' }),
    models: z.array(z.string()),
    max_bytes: z.number().int(),
    max_jobs: z.number().int(),
    label: z.string().nullable(),
    created_at: z.string().datetime(),
    expires_at: z.string().datetime(),
  })
  .openapi('UploadTokenMinted');

const IdParam = z.object({
  id: z
    .string()
    .regex(/^[0-9a-f]{16}$/)
    .openapi({ param: { name: 'id', in: 'path' } }),
});

const mint = createRoute({
  method: 'post',
  path: '/v1/upload-tokens',
  summary: 'Mint a short-lived upload token for a browser',
  description:
    "Needs an API key with the `uploads` and `jobs` scopes. The token may create uploads (their declared lengths adding up to `max_bytes`) and up to `max_jobs` jobs on the listed models, and read only those, until it expires or is revoked; it cannot read usage, segment one-shot, or mint tokens. Its jobs are charged to the key's tenant, with the token's label.",
  security: BEARER,
  middleware: [requireScope(MINTING_SCOPES)] as const,
  request: { body: { required: true, content: { 'application/json': { schema: UploadTokenCreate } } } },
  responses: {
    201: { description: 'Minted', content: { 'application/json': { schema: UploadTokenMinted } } },
    ...problemResponses('unauthorized', 'insufficient_scope', 'model_not_found', 'unsupported_media_type'),
  },
});

const revoke = createRoute({
  method: 'delete',
  path: '/v1/upload-tokens/{id}',
  summary: 'Revoke an upload token (effective on its next request; revoking again is a no-op)',
  security: BEARER,
  middleware: [requireScope(MINTING_SCOPES)] as const,
  request: { params: IdParam },
  responses: {
    204: { description: 'Revoked' },
    ...problemResponses('unauthorized', 'insufficient_scope', 'upload_token_not_found'),
  },
});

const iso = (ms: number) => new Date(ms).toISOString();

/** The `/v1/upload-tokens` routes. */
export const uploadTokenRoutes = newRouter()
  .openapi(mint, async (c) => {
    const body = c.req.valid('json');
    const models = [...new Set(body.models)];
    for (const m of models) findModel(m);
    const { id, token } = newUploadToken();
    const now = Date.now();
    const grant: UploadTokenGrant = await c.env.UPLOAD_TOKENS.getByName(id).mint({
      id,
      tenant: tenantOf(c),
      key_id: c.get('auth')!.id,
      sha256: await sha256Hex(token),
      models,
      max_bytes: body.max_bytes,
      max_jobs: body.max_jobs,
      label: body.label ?? null,
      created_at: now,
      expires_at: now + body.expires_in_minutes * 60_000,
      revoked_at: null,
      bytes_used: 0,
      jobs_used: 0,
    });
    c.header('Cache-Control', 'no-store');
    return c.json(
      {
        id,
        token,
        models: grant.models,
        max_bytes: grant.max_bytes,
        max_jobs: grant.max_jobs,
        label: grant.label,
        created_at: iso(grant.created_at),
        expires_at: iso(grant.expires_at),
      },
      201,
    );
  })
  .openapi(revoke, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await c.env.UPLOAD_TOKENS.getByName(id).revoke(tenantOf(c), Date.now()))) {
      throw new NotFoundError('upload_token_not_found', `No unexpired upload token ${id} of this tenant.`);
    }
    return c.body(null, 204);
  });
