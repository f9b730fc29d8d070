/**
 * @module
 * Structured JSON logs, one line per event. Callers pass named fields only: request bodies, headers
 * and tokens are never logged, so image data and API keys cannot leak into logs.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.js';

/** A log field: scalars only, so that nothing large or binary is ever written. */
export type LogField = string | number | boolean | null | undefined;

/** Writes one JSON log line. */
export function log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, LogField>): void {
  const line = JSON.stringify({ level, msg, time: new Date().toISOString(), ...fields });
  if (level === 'error') console.error(line);
  else console.log(line);
}

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
