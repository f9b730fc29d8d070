import { Hono } from 'hono';
import { kernelSelfCheck } from '../../engine/kernel-self-check.js';
import type { AppEnv } from '../app-env.js';
import { SERVICE_VERSION } from '../version.js';

/** `GET /healthz` and `GET /v1/version`. */
export const healthRoutes = new Hono<AppEnv>()
  .get('/healthz', async (c) => {
    const check = kernelSelfCheck(await c.get('kernels')());
    return c.json({ status: check.ok ? 'ok' : 'degraded', kernels: check }, check.ok ? 200 : 503);
  })
  .get('/v1/version', (c) =>
    c.json({ name: 'nnsam-edge', version: SERVICE_VERSION, runtime: 'workerd', kernels: { simd: true } }),
  );
