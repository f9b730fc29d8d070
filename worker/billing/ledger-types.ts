/**
 * @module
 * What the billing routes and the {@link TenantLedger} object exchange over RPC.
 */
import type { ModelPrice } from './price.js';

/** One successful job to charge. */
export interface ChargeInput {
  job_id: string;
  /** The client's `Idempotency-Key` of the request that created the job, if any. */
  idempotency_key: string | null;
  model: string;
  voxels: number;
  price: ModelPrice;
  /** Epoch milliseconds of completion. */
  at: number;
}

/** One recorded charge. */
export interface Charge {
  job_id: string;
  idempotency_key: string | null;
  model: string;
  voxels: number;
  amount_micros: number;
  currency: string;
  charged_at: number;
}

/** The outcome of `record`: the charge, and whether it already existed. */
export interface RecordResult {
  charge: Charge;
  duplicate: boolean;
}

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
  /** Whether a job estimated at the asked amount fits. */
  allowed: boolean;
}

/** A job asking for one of the tenant's concurrency slots. */
export interface AdmitInput {
  job_id: string;
  idempotency_key: string | null;
  /** What the request asked for, so that a reused key with another request is told apart. */
  fingerprint: string;
  limit: number;
  now: number;
  stale_after_ms: number;
}

/** The outcome of `admit`. */
export type AdmitResult =
  | { kind: 'admitted' }
  | { kind: 'replay'; job_id: string }
  | { kind: 'key_reused' }
  | { kind: 'busy'; active: number };

/** UTC month `[start, end)` containing `now` (epoch ms). */
export function monthOf(now: number): { start: number; end: number } {
  const d = new Date(now);
  return {
    start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
    end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
  };
}
