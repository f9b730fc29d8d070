/**
 * @module
 * The access log: one structured line (worker/log.ts) per answered request.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.js';
import { log } from '../log.js';

/** Logs each request once it is answered: route pattern, status, duration, tenant. */
export const requestLogger: MiddlewareHandler<AppEnv> = async function requestLogger(c, next) {
  const start = Date.now();
  await next();
  log('info', 'request', {
    request_id: c.get('requestId'),
    method: c.req.method,
    route: c.req.routePath,
    status: c.res.status,
    ms: Date.now() - start,
    tenant: c.get('auth')?.tenant,
  });
};
