/**
 * @module
 * The JSON bodies of the nnsam-edge HTTP API, as `/openapi.json` describes them (the client's test
 * checks these fields against the document's schemas).
 */

/** RFC 9457 problem+json: every error. */
export interface ApiProblem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
}

/** A model price in micro-units of its currency. */
export interface ApiPrice {
  currency: string;
  base_micros: number;
  per_megavoxel_micros: number;
}

/** One release of a model that the API runs (docs/model-versions.md). */
export interface ApiModelVersion {
  /** `MAJOR.MINOR.PATCH`: what `model=<id>@<version>` takes. */
  version: string;
  /** `<id>@<version>`. */
  reference: string;
  /** The release `model=<id>` runs. */
  current: boolean;
  /** `<version>+sha256.<12 hex digits of model.onnx>`. */
  build: string;
  labels: Record<string, number | number[]>;
}

/** `GET /v1/models` entry: the model's current release, and every release on offer. */
export interface ApiModel {
  id: string;
  name: string;
  /** The current release's build, `<version>+sha256.<12 hex digits of model.onnx>`. */
  version: string;
  /** Every release, current first; `price` covers them all (one price per model id). */
  versions: ApiModelVersion[];
  configuration: string;
  modality: string[];
  labels: Record<string, number | number[]>;
  accepted_inputs: string[];
  spacing: number[];
  stand_in: boolean;
  price: ApiPrice | null;
}

/**
 * What `POST /v1/uploads` declares; the client sends it as tus headers (`Upload-Length`, and
 * `sha256` and `content_type` in `Upload-Metadata`), the server also takes it as a JSON body.
 */
export interface ApiUploadCreate {
  length: number;
  content_type: string;
  /** Lower-case hex SHA-256 of the whole file. */
  sha256: string;
}

/** A resumable upload. */
export interface ApiUpload {
  id: string;
  length: number;
  offset: number;
  content_type: string;
  /** The declared SHA-256 of the whole file, or, if none was, the computed one once complete. */
  sha256: string | null;
  state: 'receiving' | 'verifying' | 'complete';
  created_at: string;
  expires_at: string;
}

/** One charge of the ledger. */
export interface ApiCharge {
  job_id: string;
  idempotency_key: string | null;
  /** The model id (priced per id, whatever the version). */
  model: string;
  /** The release that ran; null for charges recorded before versions. */
  model_version: string | null;
  voxels: number;
  amount_micros: number;
  currency: string;
  charged_at: string;
  /** The label of the upload token whose job this was; null otherwise. */
  label: string | null;
}

/** What `POST /v1/upload-tokens` takes. */
export interface ApiUploadTokenCreate {
  /** Models its jobs may use. */
  models: string[];
  /** Sum of the declared lengths of its uploads. */
  max_bytes: number;
  /** Jobs it may create. */
  max_jobs: number;
  /** Lifetime, 1 to 1440 minutes (default 60). */
  expires_in_minutes?: number;
  /** Recorded with each charge of its jobs. */
  label?: string;
}

/**
 * An upload token's shape, `nut_<16 hex id>_<43 base64url secret>`: the Worker parses its id with it
 * (worker/tokens/upload-token-types.ts) and the page refuses anything else in its link (web/app.ts).
 */
export const UPLOAD_TOKEN_FORMAT = /^nut_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** A minted upload token: `token` is shown once. */
export interface ApiUploadTokenMinted {
  id: string;
  token: string;
  models: string[];
  max_bytes: number;
  max_jobs: number;
  label: string | null;
  created_at: string;
  expires_at: string;
}

/** `OPTIONS /v1/uploads`: what the tus server speaks. */
export interface ApiTusCapabilities {
  version: string;
  extensions: string[];
  maxSize: number;
  checksumAlgorithms: string[];
}

/** `GET /v1/usage`. */
export interface ApiUsage {
  from: string;
  to: string;
  charges: ApiCharge[];
  totals: { currency: string; amount_micros: number; count: number }[];
}

/** What `POST /v1/jobs` takes. */
export interface ApiJobCreate {
  upload_id: string;
  /** A model reference: `<id>` (its current release) or `<id>@<version>`. */
  model: string;
  options?: { tta?: boolean };
}

/** Per-label statistics of a label map. */
export interface ApiLabelStats {
  label: number;
  name: string;
  voxels: number;
  volume_ml: number;
  bbox: { start: number[]; end: number[] } | null;
}

/** A job. */
export interface ApiJob {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  /** The model id the request's reference resolved to. */
  model: string;
  /** The release the job runs, fixed when it is created; null for jobs created before versions. */
  model_version: string | null;
  upload_id: string;
  options: { tta: boolean };
  progress: { stage: string; done: number; total: number; fraction: number };
  attempts: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  expires_at: string;
  error: { type: string; status: number; detail: string } | null;
  result: { href: string; bytes: number; content_type: string } | null;
  shape: number[] | null;
  voxels: number | null;
  stats: ApiLabelStats[] | null;
  charge: { amount_micros: number; currency: string } | null;
  timings_ms: { total: number; model: number; queued: number } | null;
  /** Where the model ran (the node's device, provider, WebGPU adapter, fallback); null until the job succeeds. */
  device: {
    requested: string;
    provider: string;
    adapter: string | null;
    fallback_reason: string | null;
  } | null;
  /** Sentences about the input: it plainly does not fit the model's modality, or had NaN/infinite voxels read as 0. */
  warnings: string[];
}

/** One server-sent event of `GET /v1/jobs/{id}/events`: `progress`, a final status, or `deleted`. */
export interface ApiJobEvent {
  event: 'progress' | 'succeeded' | 'failed' | 'cancelled' | 'deleted';
  job: ApiJob | null;
}

/** Every operation the client calls, as `method path` in the OpenAPI document. */
export const CLIENT_OPERATIONS = [
  'get /v1/models',
  'options /v1/uploads',
  'post /v1/uploads',
  'get /v1/uploads/{id}',
  'head /v1/uploads/{id}',
  'patch /v1/uploads/{id}',
  'delete /v1/uploads/{id}',
  'post /v1/upload-tokens',
  'delete /v1/upload-tokens/{id}',
  'get /v1/usage',
  'post /v1/jobs',
  'get /v1/jobs/{id}',
  'get /v1/jobs/{id}/events',
  'get /v1/jobs/{id}/result',
  'delete /v1/jobs/{id}',
  'post /v1/segment',
] as const;
