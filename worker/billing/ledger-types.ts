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

/** UTC month `[start, end)` containing `now` (epoch ms). */
export function monthOf(now: number): { start: number; end: number } {
  const d = new Date(now);
  return {
    start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
    end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
  };
}
