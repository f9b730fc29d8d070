/**
 * @module
 * Bearer credentials. An API key's record (tenant, scopes) is looked up by its public id and its
 * SHA-256 compared in constant time ({@link verifyApiKey}); the tenant it names scopes every resource
 * after. An upload token (`nut_...`, worker/tokens/) is accepted only where a route opts in, and is
 * checked against its own Durable Object on every request, so expiry and revocation hold at once.
 */
import { liveApiKeyById, sha256Hex, verifyApiKey, type ApiScope } from '../../engine/edge.js';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.js';
import { ForbiddenError, UnauthorizedError } from '../http-errors.js';
import { isUploadToken, uploadTokenId, type UploadTokenGrant } from '../tokens/upload-token-types.js';

/**
 * Requires a valid, unrevoked key holding every one of `scopes`, or, with `uploadTokens`, a live
 * upload token instead; sets `auth` or `uploadToken`.
 */
export function requireScope(
  scope: ApiScope | readonly ApiScope[],
  options: { uploadTokens?: boolean } = {},
): MiddlewareHandler<AppEnv> {
  const scopes: readonly ApiScope[] = typeof scope === 'string' ? [scope] : scope;
  return async function auth(c, next) {
    const header = c.req.header('Authorization') ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new UnauthorizedError('Send an API key as `Authorization: Bearer <key>`.');
    if (isUploadToken(m[1])) {
      // Checked before the token is: a browser's token learns nothing about routes closed to it.
      if (!options.uploadTokens) {
        throw new ForbiddenError(scopes[0], 'An upload token cannot call this route; it needs an API key.');
      }
      c.set('uploadToken', await verifyUploadToken(c, m[1]));
      return next();
    }
    const record = await verifyApiKey(c.env.KEYS, m[1]);
    if (!record) throw new UnauthorizedError('The API key is unknown or revoked.');
    const missing = scopes.find((s) => !record.scopes.includes(s));
    if (missing) throw new ForbiddenError(missing);
    c.set('auth', record);
    await next();
  };
}

/** The scopes a key needs to mint upload tokens (worker/routes/upload-tokens.ts), and keep them live. */
export const MINTING_SCOPES: readonly ApiScope[] = ['uploads', 'jobs'];

async function verifyUploadToken(c: Context<AppEnv>, token: string): Promise<UploadTokenGrant> {
  const id = uploadTokenId(token);
  const digest = await sha256Hex(token);
  const grant = id ? await c.env.UPLOAD_TOKENS.getByName(id).verify(digest, Date.now()) : null;
  if (!grant) throw new UnauthorizedError('The upload token is unknown, expired or revoked.');
  // A browser credential never outlives the tenant secret that authorised it: revoking the key (or
  // taking the minting scopes from it) ends its tokens too.
  if (grant.key_id !== undefined) {
    const key = await liveApiKeyById(c.env.KEYS, grant.key_id);
    if (!key || key.tenant !== grant.tenant || MINTING_SCOPES.some((s) => !key.scopes.includes(s))) {
      throw new UnauthorizedError('The upload token is unknown, expired or revoked.');
    }
  }
  return grant;
}

/**
 * Whether the credential that passed {@link requireScope} is still live: a response that outlasts
 * the request's first check (an event stream, for minutes) asks again, so that expiry and
 * revocation end it too.
 */
export async function credentialStillLive(c: Context<AppEnv>): Promise<boolean> {
  const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header('Authorization') ?? '')?.[1];
  if (!bearer) return false;
  if (!c.get('uploadToken')) return (await verifyApiKey(c.env.KEYS, bearer)) !== null;
  return verifyUploadToken(c, bearer).then(
    () => true,
    (err: unknown) => {
      if (err instanceof UnauthorizedError) return false;
      throw err;
    },
  );
}

type AuthContext = { get(key: 'auth'): AppEnv['Variables']['auth'] } & {
  get(key: 'uploadToken'): AppEnv['Variables']['uploadToken'];
};

/** The authenticated tenant; only valid behind {@link requireScope}. */
export function tenantOf(c: AuthContext): string {
  const tenant = c.get('auth')?.tenant ?? c.get('uploadToken')?.tenant;
  if (!tenant) throw new UnauthorizedError('Authentication is required.');
  return tenant;
}

/** The caller's upload token id, or null for an API key: what a token may touch is its own. */
export function tokenIdOf(c: AuthContext): string | null {
  return c.get('uploadToken')?.id ?? null;
}
