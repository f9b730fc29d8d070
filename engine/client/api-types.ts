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

/** `GET /v1/models` entry. */
export interface ApiModel {
  id: string;
  name: string;
  version: string;
  configuration: string;
  modality: string[];
  labels: Record<string, number | number[]>;
  accepted_inputs: string[];
  spacing: number[];
  stand_in: boolean;
  price: ApiPrice | null;
}

/** What `POST /v1/uploads` declares. */
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
  sha256: string;
  state: 'receiving' | 'verifying' | 'complete';
  created_at: string;
  expires_at: string;
}

/** One charge of the ledger. */
export interface ApiCharge {
  job_id: string;
  idempotency_key: string | null;
  model: string;
  voxels: number;
  amount_micros: number;
  currency: string;
  charged_at: string;
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
  model: string;
  options?: { tta?: boolean; refine?: boolean };
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
  model: string;
  upload_id: string;
  options: { tta: boolean; refine: boolean };
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
  /** Sentences saying the input plainly does not fit the model's modality; empty when it fits. */
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
  'post /v1/uploads',
  'get /v1/uploads/{id}',
  'head /v1/uploads/{id}',
  'patch /v1/uploads/{id}',
  'delete /v1/uploads/{id}',
  'get /v1/usage',
  'post /v1/jobs',
  'get /v1/jobs/{id}',
  'get /v1/jobs/{id}/events',
  'get /v1/jobs/{id}/result',
  'delete /v1/jobs/{id}',
  'post /v1/segment',
] as const;
