/**
 * @module
 * `X-Request-Id` on every response: the caller's id when it is a short safe token, else a new UUID.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.js';

const SAFE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Sets `requestId` and echoes it as `X-Request-Id`, error responses included. */
export const requestId: MiddlewareHandler<AppEnv> = async function requestId(c, next) {
  const given = c.req.header('X-Request-Id');
  const id = given && SAFE_ID.test(given) ? given : crypto.randomUUID();
  c.set('requestId', id);
  await next();
  c.res.headers.set('X-Request-Id', id);
};
