/**
 * @module
 * One Durable Object per tenant holding its billing ledger in the object's SQLite storage. It is
 * the only writer of charges and the only keeper of `Idempotency-Key` bindings (docs/billing.md).
 * Each method runs synchronously to the end (no await between read and write), inside
 * `transactionSync`, so concurrent duplicates are serialised:
 * - a charge is keyed by its job id: a job is charged at most once, whatever retries its runner makes;
 * - a key is bound to one request (operation + fingerprint) and to the run that serves it: the same
 *   key with another request is refused, a replay finds the first run and its charge, and a run
 *   whose key was taken over (it outlived its slot) cannot be charged.
 */
import { DurableObject } from 'cloudflare:workers';
import {
  monthOf,
  type AdmitInput,
  type AdmitResult,
  type BudgetStatus,
  type CancelResult,
  type Charge,
  type ChargeInput,
  type RecordResult,
  type UsageReport,
} from '../billing/ledger-types.js';
import { chargeOf } from '../billing/price.js';

// `running` and `request_keys` replace the first schema's `active_jobs` and `job_keys`, whose keys
// were not bound to an operation (a one-shot could replay a job's key for free).
const SCHEMA = `
CREATE TABLE IF NOT EXISTS charges (
  job_id TEXT PRIMARY KEY,
  idempotency_key TEXT UNIQUE,
  model TEXT NOT NULL,
  voxels INTEGER NOT NULL,
  amount_micros INTEGER NOT NULL,
  currency TEXT NOT NULL,
  charged_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS charges_by_time ON charges (charged_at);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
DROP TABLE IF EXISTS active_jobs;
DROP TABLE IF EXISTS job_keys;
CREATE TABLE IF NOT EXISTS running (
  job_id TEXT PRIMARY KEY,
  evaluations INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cancelled (
  job_id TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS request_keys (
  idempotency_key TEXT PRIMARY KEY,
  operation TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  job_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
);`;

/** Columns added after the first schema, added to a ledger that lacks them. */
const ADDED_COLUMNS = [
  { table: 'charges', column: 'label', type: 'TEXT' },
  { table: 'charges', column: 'model_version', type: 'TEXT' },
  { table: 'running', column: 'reserved_micros', type: 'INTEGER NOT NULL DEFAULT 0' },
  { table: 'running', column: 'reserved_exact', type: 'INTEGER NOT NULL DEFAULT 0' },
];

/** A tenant's charges, usage and monthly budget. */
export class TenantLedger extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(SCHEMA);
    for (const { table, column, type } of ADDED_COLUMNS) {
      const has = ctx.storage.sql
        .exec<{ name: string }>(`PRAGMA table_info(${table})`)
        .toArray()
        .some((c) => c.name === column);
      if (!has) ctx.storage.sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
    }
  }

  private sql<T extends Record<string, SqlStorageValue>>(query: string, ...args: SqlStorageValue[]): T[] {
    return this.ctx.storage.sql.exec<T>(query, ...args).toArray();
  }

  /**
   * Records the charge of one successful job, once: a repeat for the same job returns the first
   * charge. A job whose key was rebound to a newer run is `superseded` and not charged.
   */
  record(input: ChargeInput): RecordResult {
    return this.ctx.storage.transactionSync(() => {
      const existing = this.sql<Record<keyof Charge, SqlStorageValue>>(
        'SELECT * FROM charges WHERE job_id = ?',
        input.job_id,
      )[0];
      if (existing) return { kind: 'charged', charge: existing as unknown as Charge, duplicate: true };
      if (this.sql('SELECT 1 FROM cancelled WHERE job_id = ?', input.job_id).length > 0) {
        return { kind: 'cancelled' };
      }
      if (input.idempotency_key !== null) {
        const bound = this.sql<{ job_id: string }>(
          'SELECT job_id FROM request_keys WHERE idempotency_key = ?',
          input.idempotency_key,
        )[0];
        if (bound?.job_id !== input.job_id) return { kind: 'superseded' };
      }
      const charge = chargeOf(input);
      this.sql(
        `INSERT INTO charges (job_id, idempotency_key, model, model_version, voxels, amount_micros, currency, charged_at, label)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        charge.job_id,
        charge.idempotency_key,
        charge.model,
        charge.model_version,
        charge.voxels,
        charge.amount_micros,
        charge.currency,
        charge.charged_at,
        charge.label,
      );
      // Charged: what it held against the budget is now spent.
      this.sql('UPDATE running SET reserved_micros = 0 WHERE job_id = ?', charge.job_id);
      return { kind: 'charged', charge, duplicate: false };
    });
  }

  /**
   * The run `key` is bound to with this fingerprint, when its retry is answered with it whatever
   * changed since (the upload deleted, the release withdrawn, the price removed): a job, or a charged
   * one-shot. Null otherwise, and `admit` decides. Read-only: the routes ask it before their other
   * checks, so that a lost answer is always found again (docs/billing.md).
   */
  replayOf(key: string, fingerprint: string): { job_id: string; charge: Charge | null } | null {
    const seen = this.sql<{ job_id: string; fingerprint: string; operation: string }>(
      'SELECT job_id, fingerprint, operation FROM request_keys WHERE idempotency_key = ?',
      key,
    )[0];
    if (!seen || seen.fingerprint !== fingerprint) return null;
    const charge = this.sql<Record<keyof Charge, SqlStorageValue>>(
      'SELECT * FROM charges WHERE job_id = ?',
      seen.job_id,
    )[0] as unknown as Charge | undefined;
    return charge || seen.operation === 'job' ? { job_id: seen.job_id, charge: charge ?? null } : null;
  }

  /**
   * Admits a job or one-shot against the tenant's run slots and in-flight work, binding its
   * `Idempotency-Key`. A key seen before with the same fingerprint replays its run (with the
   * run's charge, if any) or reports it still running; with another fingerprint it is refused. A
   * one-shot key whose run neither was charged nor is running (it failed or died) is taken over
   * by this request: failures are never charged, so the retry must be able to run.
   */
  admit(input: AdmitInput): AdmitResult {
    return this.ctx.storage.transactionSync((): AdmitResult => {
      this.sql('DELETE FROM running WHERE expires_at < ?', input.now);
      const key = input.idempotency_key;
      if (key !== null) {
        const seen = this.sql<{ job_id: string; fingerprint: string; operation: string }>(
          'SELECT job_id, fingerprint, operation FROM request_keys WHERE idempotency_key = ?',
          key,
        )[0];
        if (seen && seen.fingerprint !== input.fingerprint) {
          return { kind: 'key_reused', operation: seen.operation as AdmitInput['operation'] };
        }
        if (seen) {
          const charge = this.sql<Record<keyof Charge, SqlStorageValue>>(
            'SELECT * FROM charges WHERE job_id = ?',
            seen.job_id,
          )[0] as unknown as Charge | undefined;
          // A job is its own record (its state outlives its run); a one-shot is only its charge.
          if (charge || input.operation === 'job') {
            return { kind: 'replay', job_id: seen.job_id, charge: charge ?? null };
          }
          const running = this.sql('SELECT 1 FROM running WHERE job_id = ?', seen.job_id).length > 0;
          if (running) return { kind: 'in_flight', job_id: seen.job_id };
        }
      }
      const { n, work } = this.sql<{ n: number; work: number }>(
        'SELECT COUNT(*) AS n, COALESCE(SUM(evaluations), 0) AS work FROM running',
      )[0];
      if (n >= input.limit) return { kind: 'busy', active: n };
      if (work + input.evaluations > input.max_evaluations) {
        return { kind: 'work_busy', active_evaluations: work };
      }
      const reserve = input.reserve_micros ?? 0;
      const budget = this.monthBudget(input.now);
      if (budget.budget_micros !== null) {
        // Every running request holds its most possible charge: together they cannot pass the budget.
        const held = this.sql<{ all: number; exact: number }>(
          `SELECT COALESCE(SUM(reserved_micros), 0) AS "all",
                  COALESCE(SUM(CASE WHEN reserved_exact = 1 THEN reserved_micros ELSE 0 END), 0) AS exact
           FROM running`,
        )[0];
        if (budget.spent_micros + held.all + reserve > budget.budget_micros) {
          // A 429 (retry) only if it would still fit once the running requests end with those of a
          // known shape charged what they hold; else 402.
          const wouldFit = budget.spent_micros + held.exact + reserve <= budget.budget_micros;
          return {
            kind: wouldFit ? 'budget_held' : 'over_budget',
            budget_micros: budget.budget_micros,
            spent_micros: budget.spent_micros,
            reserved_micros: held.all,
          };
        }
      }
      this.sql(
        'INSERT OR REPLACE INTO running (job_id, evaluations, expires_at, reserved_micros, reserved_exact) VALUES (?, ?, ?, ?, ?)',
        input.job_id,
        input.evaluations,
        input.expires_at,
        reserve,
        input.reserve_exact === true ? 1 : 0,
      );
      if (key !== null) {
        this.sql(
          'INSERT OR REPLACE INTO request_keys VALUES (?, ?, ?, ?, ?)',
          key,
          input.operation,
          input.fingerprint,
          input.job_id,
          input.now,
        );
      }
      return { kind: 'admitted' };
    });
  }

  /**
   * Cancels a job that is not charged: its slot goes and `record` refuses it from now on. A job
   * deleted or failed (timed out included) while its runner is charging it is decided here, in the
   * ledger's order:
   * the cancel came first (`cancelled`, nothing is charged) or the charge did (`charged`, with the
   * charge: the job had finished). The mark is kept until `expiresAt`, past which the job's runner
   * can no longer charge it.
   */
  cancel(jobId: string, now: number, expiresAt: number): CancelResult {
    return this.ctx.storage.transactionSync((): CancelResult => {
      this.sql('DELETE FROM cancelled WHERE expires_at < ?', now);
      const charged = this.sql<Record<keyof Charge, SqlStorageValue>>(
        'SELECT * FROM charges WHERE job_id = ?',
        jobId,
      )[0];
      if (charged) return { kind: 'charged', charge: charged as unknown as Charge };
      this.sql(
        'INSERT INTO cancelled (job_id, expires_at) VALUES (?, ?) ON CONFLICT (job_id) DO UPDATE SET expires_at = excluded.expires_at',
        jobId,
        expiresAt,
      );
      this.sql('DELETE FROM running WHERE job_id = ?', jobId);
      return { kind: 'cancelled' };
    });
  }

  /** Whether the run holds a slot (admitted, not yet released). */
  isRunning(jobId: string): boolean {
    return this.sql('SELECT 1 FROM running WHERE job_id = ?', jobId).length > 0;
  }

  /** Frees the run's slot (a repeat is harmless). */
  release(jobId: string): void {
    this.sql('DELETE FROM running WHERE job_id = ?', jobId);
  }

  /**
   * Undoes an admission that never became a run (its creation failed, or it was refused after
   * admission): the slot and the key binding go, so that a retry with the key is a new request, not
   * a replay of nothing; and the job is marked cancelled until `markUntil`, so that a runner whose
   * creation failed only after its write landed (a Durable Object call can) never charges for a job
   * its client was told did not exist (`record` refuses it). False, and nothing done, when the job
   * was already charged: it ran and delivered, and keeps its key.
   */
  abandon(jobId: string, now: number, markUntil: number): boolean {
    return this.ctx.storage.transactionSync(() => {
      if (this.sql('SELECT 1 FROM charges WHERE job_id = ?', jobId).length > 0) return false;
      this.sql('DELETE FROM cancelled WHERE expires_at < ?', now);
      this.sql('DELETE FROM running WHERE job_id = ?', jobId);
      this.sql('DELETE FROM request_keys WHERE job_id = ?', jobId);
      this.sql(
        'INSERT INTO cancelled (job_id, expires_at) VALUES (?, ?) ON CONFLICT (job_id) DO UPDATE SET expires_at = excluded.expires_at',
        jobId,
        markUntil,
      );
      return true;
    });
  }

  /** Charges with `from <= charged_at < to` (epoch ms), oldest first, with totals per currency. */
  usage(from: number, to: number): UsageReport {
    const charges = this.sql<Record<keyof Charge, SqlStorageValue>>(
      'SELECT * FROM charges WHERE charged_at >= ? AND charged_at < ? ORDER BY charged_at, job_id',
      from,
      to,
    ) as unknown as Charge[];
    const totals = this.sql<{ currency: string; amount_micros: number; count: number }>(
      `SELECT currency, SUM(amount_micros) AS amount_micros, COUNT(*) AS count FROM charges
       WHERE charged_at >= ? AND charged_at < ? GROUP BY currency ORDER BY currency`,
      from,
      to,
    );
    return { from, to, charges, totals };
  }

  /** Sets (or, with null, clears) the monthly budget in micro-units. */
  setBudget(micros: number | null): void {
    if (micros === null) this.sql("DELETE FROM settings WHERE name = 'budget_micros'");
    else this.sql("INSERT OR REPLACE INTO settings VALUES ('budget_micros', ?)", String(micros));
  }

  /** The month of `now`: its budget (null: none) and what is spent. */
  private monthBudget(now: number): BudgetStatus {
    const { start, end } = monthOf(now);
    const row = this.sql<{ value: string }>("SELECT value FROM settings WHERE name = 'budget_micros'")[0];
    const spent = this.sql<{ spent: number }>(
      'SELECT COALESCE(SUM(amount_micros), 0) AS spent FROM charges WHERE charged_at >= ? AND charged_at < ?',
      start,
      end,
    )[0].spent;
    return {
      budget_micros: row ? Number(row.value) : null,
      spent_micros: spent,
      month_start: start,
      month_end: end,
    };
  }
}
