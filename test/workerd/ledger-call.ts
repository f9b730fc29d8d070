/** The charge the ledger harness records (worker/billing/ledger-types.ts ChargeInput, as JSON). */
export interface ChargeInputJson {
  job_id: string;
  idempotency_key: string | null;
  model: string;
  voxels: number;
  price: { currency: string; base_micros: number; per_megavoxel_micros: number };
  at: number;
}

/** A run asking for a slot (worker/billing/ledger-types.ts AdmitInput, as JSON). */
export interface AdmitInputJson {
  job_id: string;
  operation: 'segment' | 'job';
  idempotency_key: string | null;
  fingerprint: string;
  evaluations: number;
  limit: number;
  max_evaluations: number;
  now: number;
  expires_at: number;
  reserve_micros?: number;
  reserve_exact?: boolean;
}

/** One request to test/workerd/ledger-harness.ts. */
export type LedgerCall =
  | { op: 'record'; tenant: string; input: ChargeInputJson; times?: number }
  | { op: 'admit'; tenant: string; input: AdmitInputJson; times?: number }
  | { op: 'release'; tenant: string; job_id: string }
  | { op: 'abandon'; tenant: string; job_id: string; now: number; mark_until: number }
  | { op: 'cancel'; tenant: string; job_id: string; now: number; expires_at: number }
  | { op: 'isRunning'; tenant: string; job_id: string }
  | { op: 'replayOf'; tenant: string; key: string; fingerprint: string }
  | { op: 'usage'; tenant: string; from: number; to: number }
  | { op: 'setBudget'; tenant: string; micros: number | null };
