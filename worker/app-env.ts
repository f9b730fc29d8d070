import type { ApiKeyRecord, KernelCore } from '../engine/edge.js';
import type { ApiConfig } from './config.js';
import type { JobRunner } from './durable-objects/job-runner.js';
import type { TenantLedger } from './durable-objects/tenant-ledger.js';
import type { UploadSession } from './durable-objects/upload-session.js';
import type { UploadToken } from './durable-objects/upload-token.js';
import type { UploadTokenGrant } from './tokens/upload-token-types.js';

/** Worker bindings, as declared in wrangler.toml. */
export interface Bindings {
  KERNEL_MEMORY_MB?: string;
  MAX_BODY_BYTES?: string;
  MAX_CHUNK_BYTES?: string;
  MAX_UPLOAD_BYTES?: string;
  UPLOAD_TTL_SECONDS?: string;
  RESULT_TTL_SECONDS?: string;
  MAX_JOB_SECONDS?: string;
  MAX_CONCURRENT_JOBS?: string;
  /** Comma-separated origins of the inference nodes. */
  INFERENCE_NODES?: string;
  /** JSON price table used while KV has none. */
  DEFAULT_PRICES?: string;
  /** Most voxels of a one-shot input run inside the Worker; "0" sends every run to the nodes. */
  EDGE_MAX_VOXELS?: string;
  MAX_EVALUATIONS?: string;
  MAX_WORK_MEMORY_MB?: string;
  MAX_TENANT_EVALUATIONS?: string;
  EDGE_MAX_EVALUATIONS?: string;
  EDGE_MAX_MEMORY_MB?: string;
  ONE_SHOT_SECONDS?: string;
  /** A secret: the nodes' bearer token. */
  NODE_TOKEN?: string;
  /** API key records and the price table. */
  KEYS: KVNamespace;
  /** Upload chunks and assembled uploads. */
  UPLOADS: R2Bucket;
  /** One object per resumable upload. */
  UPLOAD_SESSIONS: DurableObjectNamespace<UploadSession>;
  /** Job results (label maps). */
  RESULTS: R2Bucket;
  /** One object per job: its state, and the run itself (in its alarm). */
  JOBS: DurableObjectNamespace<JobRunner>;
  /** Edge-capable models' ONNX files, keyed `<model id>/<file>` (checked against the manifest's SHA-256). */
  MODELS: R2Bucket;
  /** One billing ledger per tenant. */
  LEDGER: DurableObjectNamespace<TenantLedger>;
  /** One object per browser upload token (`POST /v1/upload-tokens`). */
  UPLOAD_TOKENS: DurableObjectNamespace<UploadToken>;
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
    /** The caller's upload token, when it sent one instead of a key (then `auth` is unset). */
    uploadToken?: UploadTokenGrant;
    /** Set when the request body broke off while it was read (worker/http-body.ts). */
    bodyFailed?: boolean;
  };
}
