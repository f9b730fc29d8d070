import type { ApiKeyRecord, KernelCore } from '../engine/edge.js';
import type { ApiConfig } from './config.js';
import type { UploadTokenGrant } from './tokens/upload-token-types.js';

/**
 * Hono environment: the Worker's bindings plus per-request variables set by middleware. The
 * bindings are the global `Env` that `npm run types:worker` generates from wrangler.toml
 * (worker/worker-configuration.d.ts), so they cannot drift from it; modules outside Hono's context
 * (Durable Objects, config, admission) take `Env` itself and do not import this file.
 */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    /** The isolate's kernel core, instantiated on first use. */
    kernels: () => Promise<KernelCore>;
    config: ApiConfig;
    requestId: string;
    /** The caller's key, set by the auth middleware on protected routes. */
    auth: ApiKeyRecord | undefined;
    /** The caller's upload token, when it sent one instead of a key (then `auth` is unset). */
    uploadToken?: UploadTokenGrant;
    /** Set when the request body broke off while it was read (worker/http-body.ts). */
    bodyFailed?: boolean;
  };
}
