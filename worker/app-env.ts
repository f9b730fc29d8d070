import type { ApiKeyRecord } from '../engine/auth/api-key.js';
import type { KernelCore } from '../wasm/src/kernel-core.js';
import type { ApiConfig } from './config.js';
import type { TenantLedger } from './durable-objects/tenant-ledger.js';
import type { UploadSession } from './durable-objects/upload-session.js';

/** Worker bindings, as declared in wrangler.toml. */
export interface Bindings {
  KERNEL_MEMORY_MB?: string;
  MAX_BODY_BYTES?: string;
  MAX_CHUNK_BYTES?: string;
  MAX_UPLOAD_BYTES?: string;
  UPLOAD_TTL_SECONDS?: string;
  /** API key records and the price table. */
  KEYS: KVNamespace;
  /** Upload chunks and assembled uploads. */
  UPLOADS: R2Bucket;
  /** One object per resumable upload. */
  UPLOAD_SESSIONS: DurableObjectNamespace<UploadSession>;
  /** One billing ledger per tenant. */
  LEDGER: DurableObjectNamespace<TenantLedger>;
}

/** Hono environment: bindings plus per-request variables set by middleware. */
export interface AppEnv {
  Bindings: Bindings;
  Variables: {
    /** The isolate's kernel core, instantiated on first use. */
    kernels: () => Promise<KernelCore>;
    config: ApiConfig;
    requestId: string;
    /** The caller's key, set by the auth middleware on protected routes. */
    auth: ApiKeyRecord | undefined;
  };
}
