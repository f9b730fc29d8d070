/**
 * @module
 * Bearer API keys. The key's record (tenant, scopes) is looked up by its public id and its SHA-256
 * compared in constant time ({@link verifyApiKey}); the tenant it names scopes every resource after.
 */
import { verifyApiKey, type ApiScope } from '../../engine/edge.js';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.js';
import { ForbiddenError, UnauthorizedError } from '../http-errors.js';

/** Requires a valid, unrevoked key holding `scope`; sets `auth`. */
export function requireScope(scope: ApiScope): MiddlewareHandler<AppEnv> {
  return async function auth(c, next) {
    const header = c.req.header('Authorization') ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new UnauthorizedError('Send an API key as `Authorization: Bearer <key>`.');
    const record = await verifyApiKey(c.env.KEYS, m[1]);
    if (!record) throw new UnauthorizedError('The API key is unknown or revoked.');
    if (!record.scopes.includes(scope)) throw new ForbiddenError(scope);
    c.set('auth', record);
    await next();
  };
}

/** The authenticated tenant; only valid behind {@link requireScope}. */
export function tenantOf(c: { get(key: 'auth'): AppEnv['Variables']['auth'] }): string {
  const auth = c.get('auth');
  if (!auth) throw new UnauthorizedError('Authentication is required.');
  return auth.tenant;
}
