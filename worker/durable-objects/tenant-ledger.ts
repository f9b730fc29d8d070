/**
 * @module
 * One Durable Object per tenant holding its billing ledger in the object's SQLite storage. Each method
 * runs synchronously to the end (no await between read and write), inside `transactionSync`, so
 * concurrent duplicates of one job are serialised and exactly one row is written: `job_id` is the
 * primary key and `idempotency_key` is unique.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Bindings } from '../app-env.js';
import {
  monthOf,
  type AdmitInput,
  type AdmitResult,
  type BudgetStatus,
  type Charge,
  type ChargeInput,
  type RecordResult,
  type UsageReport,
} from '../billing/ledger-types.js';
import { chargeMicros } from '../billing/price.js';

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
CREATE TABLE IF NOT EXISTS active_jobs (job_id TEXT PRIMARY KEY, started_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS job_keys (
  idempotency_key TEXT PRIMARY KEY,
  job_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  created_at INTEGER NOT NULL
);`;

/** A tenant's charges, usage and monthly budget. */
export class TenantLedger extends DurableObject<Bindings> {
  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    ctx.storage.sql.exec(SCHEMA);
  }

  private sql<T extends Record<string, SqlStorageValue>>(query: string, ...args: SqlStorageValue[]): T[] {
    return this.ctx.storage.sql.exec<T>(query, ...args).toArray();
  }

  /** Records the charge of one successful job, once: a repeat (same job or idempotency key) returns the first. */
  record(input: ChargeInput): RecordResult {
    return this.ctx.storage.transactionSync(() => {
      const existing = this.sql<Record<keyof Charge, SqlStorageValue>>(
        'SELECT * FROM charges WHERE job_id = ? OR (? IS NOT NULL AND idempotency_key = ?) LIMIT 1',
        input.job_id,
        input.idempotency_key,
        input.idempotency_key,
      )[0];
      if (existing) return { charge: existing as unknown as Charge, duplicate: true };
      const charge: Charge = {
        job_id: input.job_id,
        idempotency_key: input.idempotency_key,
        model: input.model,
        voxels: input.voxels,
        amount_micros: chargeMicros(input.price, input.voxels),
        currency: input.price.currency,
        charged_at: input.at,
      };
      this.sql(
        'INSERT INTO charges VALUES (?, ?, ?, ?, ?, ?, ?)',
        charge.job_id,
        charge.idempotency_key,
        charge.model,
        charge.voxels,
        charge.amount_micros,
        charge.currency,
        charge.charged_at,
      );
      return { charge, duplicate: false };
    });
  }

  /**
   * Admits a job (or one-shot request) against the tenant's concurrency limit, and maps its
   * `Idempotency-Key` to it: a key seen before replays its job, or is refused when the request
   * differs. Slots older than `stale_after_ms` are taken back (their runner died without releasing).
   */
  admit(input: AdmitInput): AdmitResult {
    return this.ctx.storage.transactionSync(() => {
      if (input.idempotency_key !== null) {
        const seen = this.sql<{ job_id: string; fingerprint: string }>(
          'SELECT job_id, fingerprint FROM job_keys WHERE idempotency_key = ?',
          input.idempotency_key,
        )[0];
        if (seen) {
          return seen.fingerprint === input.fingerprint
            ? { kind: 'replay', job_id: seen.job_id }
            : { kind: 'key_reused' };
        }
      }
      this.sql('DELETE FROM active_jobs WHERE started_at < ?', input.now - input.stale_after_ms);
      const active = this.sql<{ n: number }>('SELECT COUNT(*) AS n FROM active_jobs')[0].n;
      if (active >= input.limit) return { kind: 'busy', active };
      this.sql('INSERT OR REPLACE INTO active_jobs VALUES (?, ?)', input.job_id, input.now);
      if (input.idempotency_key !== null) {
        this.sql(
          'INSERT INTO job_keys VALUES (?, ?, ?, ?)',
          input.idempotency_key,
          input.job_id,
          input.fingerprint,
          input.now,
        );
      }
      return { kind: 'admitted' };
    });
  }

  /** Frees the job's concurrency slot (a repeat is harmless). */
  release(jobId: string): void {
    this.sql('DELETE FROM active_jobs WHERE job_id = ?', jobId);
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

  /** The month of `now` against the budget, and whether a job estimated at `estimateMicros` fits. */
  budget(now: number, estimateMicros: number): BudgetStatus {
    const { start, end } = monthOf(now);
    const row = this.sql<{ value: string }>("SELECT value FROM settings WHERE name = 'budget_micros'")[0];
    const spent = this.sql<{ spent: number }>(
      'SELECT COALESCE(SUM(amount_micros), 0) AS spent FROM charges WHERE charged_at >= ? AND charged_at < ?',
      start,
      end,
    )[0].spent;
    const budget = row ? Number(row.value) : null;
    return {
      budget_micros: budget,
      spent_micros: spent,
      month_start: start,
      month_end: end,
      allowed: budget === null || spent + estimateMicros <= budget,
    };
  }
}
