/**
 * @module
 * What the billing routes and the {@link TenantLedger} object exchange over RPC.
 */
import type { ApiCharge } from '../../engine/edge.js';
import type { ModelPrice } from './price.js';

/** One successful job to charge. */
export interface ChargeInput {
  job_id: string;
  /**
   * The client's `Idempotency-Key` of the request that created the job, if any: kept with the
   * charge for the tenant's records; the charge itself is keyed by `job_id` alone.
   */
  idempotency_key: string | null;
  /** The label of the upload token that created the job, if a token did. */
  label: string | null;
  /** The model id: what the price is keyed by, one price for all its versions (docs/billing.md). */
  model: string;
  /** The release that ran, recorded for the tenant's records; absent from callers before versions. */
  model_version?: string | null;
  voxels: number;
  price: ModelPrice;
  /** Epoch milliseconds of completion. */
  at: number;
}

/** One recorded charge: the wire type, with the time as the ledger stores it (epoch milliseconds). */
export type Charge = Omit<ApiCharge, 'charged_at'> & { charged_at: number };

/**
 * The outcome of `record`: the charge, and whether it already existed; or `superseded` when the
 * job's `Idempotency-Key` now belongs to another run (this one outlived its slot), which must not
 * be charged or delivered: the key's charge is the other run's.
 */
export type RecordResult =
  { kind: 'charged'; charge: Charge; duplicate: boolean } | { kind: 'superseded' } | { kind: 'cancelled' };

/** What the ledger's `cancel` found: the job uncharged and now cancelled, or already charged. */
export type CancelResult = { kind: 'cancelled' } | { kind: 'charged'; charge: Charge };

/** Charges in `[from, to)` and their total per currency. */
export interface UsageReport {
  from: number;
  to: number;
  charges: Charge[];
  totals: { currency: string; amount_micros: number; count: number }[];
}

/** The tenant's monthly budget against what the current month has spent. */
export interface BudgetStatus {
  budget_micros: number | null;
  spent_micros: number;
  month_start: number;
  month_end: number;
}

/** What an `Idempotency-Key` is bound to: the kind of request that first used it. */
export type Operation = 'segment' | 'job';

/** A job or one-shot asking for one of the tenant's run slots. */
export interface AdmitInput {
  job_id: string;
  operation: Operation;
  idempotency_key: string | null;
  /**
   * What the request asked for (operation, model, options, the input's SHA-256), so that a reused
   * key with another request is told apart (worker/jobs/admission.ts).
   */
  fingerprint: string;
  /** Network patch evaluations the request implies (docs/work-bounds.md). */
  evaluations: number;
  /** Runs the tenant may have at once. */
  limit: number;
  /** Evaluations the tenant's running requests may imply together. */
  max_evaluations: number;
  now: number;
  /** When the slot is taken back if its runner never releases it (it died). */
  expires_at: number;
  /**
   * The most this run can be charged (its price at the voxels its header declares, or at the most
   * the work bounds allow), held against the monthly budget until it is charged or released.
   * Absent from callers before reservations: they reserve nothing.
   */
  reserve_micros?: number;
  /**
   * The hold is what the run will be charged (its input's shape is known, and a node's answer must
   * state it): counted as spent when deciding between 402 and a 429 to retry.
   */
  reserve_exact?: boolean;
}

/**
 * The outcome of `admit`. `replay`: the key's first request, with its charge when it was charged
 * (a one-shot answers with its stored result; a job with its state). `in_flight`: the key's first
 * request is still running. `key_reused`: the key was bound to another request.
 */
export type AdmitResult =
  | { kind: 'admitted' }
  | { kind: 'replay'; job_id: string; charge: Charge | null }
  | { kind: 'in_flight'; job_id: string }
  | { kind: 'key_reused'; operation: Operation }
  | { kind: 'busy'; active: number }
  | { kind: 'work_busy'; active_evaluations: number }
  | { kind: 'over_budget'; budget_micros: number; spent_micros: number; reserved_micros: number }
  | { kind: 'budget_held'; budget_micros: number; spent_micros: number; reserved_micros: number };

/** UTC month `[start, end)` containing `now` (epoch ms). */
export function monthOf(now: number): { start: number; end: number } {
  const d = new Date(now);
  return {
    start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
    end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
  };
}
