import { kernelSelfCheck } from '../../engine/edge.js';
import { createRoute, z } from '@hono/zod-openapi';
import { problemResponses } from '../problem.js';
import { newRouter } from '../router.js';
import { SERVICE_VERSION } from '../version.js';

const Health = z
  .object({
    status: z.enum(['ok', 'degraded']),
    kernels: z.object({ ok: z.boolean(), detail: z.string() }),
  })
  .openapi('Health');

const Version = z
  .object({
    name: z.literal('nnsam-edge'),
    version: z.string(),
    runtime: z.string(),
    kernels: z.object({ simd: z.boolean() }),
  })
  .openapi('Version');

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness: runs one WASM kernel',
  responses: {
    200: { description: 'Healthy', content: { 'application/json': { schema: Health } } },
    503: { description: 'A kernel self-check failed', content: { 'application/json': { schema: Health } } },
    ...problemResponses(),
  },
});

const version = createRoute({
  method: 'get',
  path: '/v1/version',
  summary: 'Service version',
  responses: {
    200: { description: 'The version', content: { 'application/json': { schema: Version } } },
    ...problemResponses(),
  },
});

/** `GET /healthz` and `GET /v1/version`. */
export const healthRoutes = newRouter()
  .openapi(healthz, async (c) => {
    const check = kernelSelfCheck(await c.get('kernels')());
    return check.ok
      ? c.json({ status: 'ok' as const, kernels: check }, 200)
      : c.json({ status: 'degraded' as const, kernels: check }, 503);
  })
  .openapi(version, (c) =>
    c.json(
      { name: 'nnsam-edge' as const, version: SERVICE_VERSION, runtime: 'workerd', kernels: { simd: true } },
      200,
    ),
  );
