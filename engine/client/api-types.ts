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

/** Every operation the client calls, as `method path` in the OpenAPI document. */
export const CLIENT_OPERATIONS = [
  'get /v1/models',
  'post /v1/uploads',
  'get /v1/uploads/{id}',
  'head /v1/uploads/{id}',
  'patch /v1/uploads/{id}',
  'delete /v1/uploads/{id}',
  'get /v1/usage',
] as const;
