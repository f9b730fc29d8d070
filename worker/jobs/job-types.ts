/**
 * @module
 * A job as its {@link JobRunner} Durable Object stores it, and what the job routes send it.
 */
import type { LabelStats, RunProgress, RunRuntime } from '../../engine/edge.js';
import type { ModelPrice } from '../billing/price.js';

/** Where a job is; the last three are final. */
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** What the route asks for. */
export interface JobInit {
  id: string;
  tenant: string;
  /** The model id the request's reference resolved to. */
  model: string;
  /** The release the job runs, fixed at creation: a new current release does not change a queued job. */
  model_version: string;
  upload_id: string;
  /** R2 key (UPLOADS) of the complete upload. */
  input_key: string;
  /** The upload's `[nx, ny, nz]` as its header declares it, or null when the Worker could not read it. */
  input_shape: number[] | null;
  /** The most voxels the job can be charged for (what it holds against the budget). */
  input_max_voxels: number;
  options: { tta: boolean };
  idempotency_key: string | null;
  /** The upload token that created the job (only it, and the tenant's keys, may see it), or null. */
  token_id: string | null;
  /** The token's label, recorded with the job's charge. */
  label: string | null;
  price: ModelPrice;
  request_id: string;
  now: number;
}

/** A job's stored state. */
export interface JobState extends Omit<
  JobInit,
  'now' | 'input_key' | 'input_shape' | 'input_max_voxels' | 'price' | 'request_id' | 'model_version'
> {
  /** Absent on jobs stored before versions: they run the current release. */
  model_version?: string;
  status: JobStatus;
  progress: {
    stage: RunProgress['stage'] | 'waiting' | 'done';
    done: number;
    total: number;
    fraction: number;
  };
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** When the job and its result are deleted: the job deadline until it ends, then its result lifetime. */
  expires_at: number;
  /** Runs started on a node (a retry after a node failure adds one). */
  attempts: number;
  error: { status: number; code: string; detail: string } | null;
  result: { bytes: number; content_type: string } | null;
  shape: number[] | null;
  voxels: number | null;
  stats: LabelStats[] | null;
  charge: { amount_micros: number; currency: string } | null;
  timings_ms: { total: number; model: number; queued: number } | null;
  /** Where the model ran, from the node's `end` frame (absent on jobs stored before it existed). */
  device?: JobDevice | null;
  /** Modality warnings of the input (engine/models/modality.ts), once the node has read it. */
  warnings?: string[];
}

/** Where a job's model ran: the device asked for, the provider that ran it, the adapter, any fallback. */
export interface JobDevice {
  requested: string;
  provider: string;
  adapter: string | null;
  fallback_reason: string | null;
}

/** The job's device from a node's `end` frame runtime. */
export function jobDevice(runtime: RunRuntime): JobDevice {
  return {
    requested: runtime.requested ?? runtime.provider,
    provider: runtime.provider,
    adapter: runtime.adapter ?? null,
    fallback_reason: runtime.fallbackReason ?? null,
  };
}

/**
 * How long the ledger keeps the cancel mark of a deleted, failed or abandoned job past its deadline
 * (a runner's last charge attempt comes before the deadline's abort lands, well within this).
 */
export const CANCEL_MARK_MS = 60 * 60 * 1000;

/** Whether no more change will happen to a job in `status`. */
export function isFinal(status: JobStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled';
}

/** Overall completion from a node's stage report: prediction is most of the work. */
export function fractionOf(p: { stage: string; done: number; total: number }): number {
  const within = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
  switch (p.stage) {
    case 'reading':
      return 0.02;
    case 'preprocess':
      return 0.05;
    case 'predict':
      return 0.05 + 0.85 * within;
    case 'postprocess':
      return 0.9;
    case 'encode':
      return 0.95;
    case 'done':
      return 1;
    default:
      return 0;
  }
}

/** R2 key (RESULTS) of a job's label map; the tenant is part of it so that no key crosses tenants. */
export function resultKey(tenant: string, id: string): string {
  return `results/${tenant}/${id}/labels`;
}

/** The Durable Object name of a job: another tenant's id names another (empty) object. */
export function jobObjectName(tenant: string, id: string): string {
  return `${tenant}/${id}`;
}
