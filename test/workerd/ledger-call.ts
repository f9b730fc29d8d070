/** The charge the ledger harness records (worker/billing/ledger-types.ts ChargeInput, as JSON). */
export interface ChargeInputJson {
  job_id: string;
  idempotency_key: string | null;
  model: string;
  voxels: number;
  price: { currency: string; base_micros: number; per_megavoxel_micros: number };
  at: number;
}

/** One request to test/workerd/ledger-harness.ts. */
export type LedgerCall =
  | { op: 'record'; tenant: string; input: ChargeInputJson; times?: number }
  | { op: 'usage'; tenant: string; from: number; to: number }
  | { op: 'setBudget'; tenant: string; micros: number | null }
  | { op: 'assertBudget'; tenant: string; estimate: number; now: number };
