/**
 * @module
 * What every job and one-shot request passes before it runs: a known, priced model, the tenant's
 * monthly budget (402) and a concurrency slot (429), with the `Idempotency-Key` mapped in the
 * tenant's ledger so that a retried request finds its first job.
 */
import { InputError } from '../../engine/edge.js';
import type { AdmitInput, AdmitResult } from '../billing/ledger-types.js';
import type { ApiConfig } from '../config.js';
import { budgetExceeded } from '../billing/budget.js';
import { chargeMicros, modelPrice, readPriceTable, type ModelPrice } from '../billing/price.js';
import { findModel } from '../catalog/model-catalog.js';
import { BadRequestError, ConflictError, TooManyRequestsError } from '../http-errors.js';
import { sha256OfBytes } from '../uploads/read-chunk.js';

/** Seconds a client is told to wait when its tenant has no free slot. */
const BUSY_RETRY_SECONDS = 2;

/**
 * The price of a bundled, priced model id (one price for all its versions, docs/billing.md): 404
 * `model_not_found`, 409 `model_not_priced` otherwise.
 */
export async function priceFor(env: Env, config: ApiConfig, model: string): Promise<ModelPrice> {
  findModel(model);
  const price = modelPrice(await readPriceTable(env.KEYS, config.defaultPrices), model);
  if (!price) {
    throw new ConflictError('model_not_priced', `Model '${model}' has no price yet, so it takes no jobs.`);
  }
  return price;
}

/** The request's `Idempotency-Key` (1-255 visible ASCII characters), or null. */
export function idempotencyKeyOf(header: string | undefined): string | null {
  if (header === undefined) return null;
  if (!/^[\x21-\x7e]{1,255}$/.test(header)) {
    throw new BadRequestError('Idempotency-Key must be 1 to 255 visible ASCII characters.');
  }
  return header;
}

/**
 * The key as the ledger binds it. An upload token's keys are its own: namespaced by its id, so that a
 * browser can neither take a key the tenant's server will send (its request would answer 422 for
 * good) nor learn from a 422 which keys the server has used. Without a token, the key as sent.
 */
export function ledgerKeyOf(key: string | null, tokenId: string | null): string | null {
  return key === null || tokenId === null ? key : `token:${tokenId}:${key}`;
}

/**
 * The request a key is bound to: operation, model, options and the input's SHA-256 (or the
 * upload's id, whose bytes are fixed once complete), as one hex digest.
 */
export async function requestFingerprint(parts: Record<string, unknown>): Promise<string> {
  // Keys sorted at every depth. A key list as the replacer (the earlier form) filters nested
  // objects' keys by the top-level names too, which left nested options out of the fingerprint;
  // for flat parts both give the same text, so fingerprints already stored still match.
  const canonical = JSON.stringify(parts, (_key, value: unknown) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
  return sha256OfBytes(new TextEncoder().encode(canonical));
}

/**
 * Takes a run slot, holds the most the run can cost against the monthly budget and binds the key,
 * in one ledger transaction; a replay comes back as such, whatever the budget says now (it costs
 * nothing). `reserveVoxels`: the input's voxels as its header declares them, or the most the work
 * bounds allow when it cannot be read; a node's answer is held to the same count
 * (worker/nodes/remote-run.ts), so no charge passes what was held. Refusals: 402
 * `budget_exceeded`, 422 `idempotency_key_reused`, 409 `idempotency_key_in_flight`, 429
 * `concurrency_limit` (slots, the tenant's in-flight work, or budget that running requests hold).
 */
export async function admitRun(
  env: Env,
  args: Omit<AdmitInput, 'job_id' | 'reserve_micros' | 'reserve_exact'> & {
    tenant: string;
    jobId: string;
    price: ModelPrice;
    reserveVoxels: number;
    /** `reserveVoxels` is the declared shape's, which a node's answer must state: the charge if it succeeds. */
    reserveExact: boolean;
  },
): Promise<Extract<AdmitResult, { kind: 'admitted' | 'replay' }>> {
  const { tenant, jobId, price, reserveVoxels, reserveExact, ...input } = args;
  const reserve = chargeMicros(price, reserveVoxels);
  const result = await env.LEDGER.getByName(tenant).admit({
    job_id: jobId,
    ...input,
    reserve_micros: reserve,
    reserve_exact: reserveExact,
  });
  switch (result.kind) {
    case 'replay':
    case 'admitted':
      return result;
    case 'over_budget':
      throw budgetExceeded(result, reserve);
    case 'budget_held':
      throw new TooManyRequestsError(
        `Running requests hold ${result.reserved_micros} micro-units of the monthly budget until they end; ` +
          `this one may cost up to ${reserve}. Retry later.`,
        BUSY_RETRY_SECONDS,
      );
    case 'busy':
      throw new TooManyRequestsError(
        `${result.active} of ${input.limit} concurrent runs are going; retry later.`,
        BUSY_RETRY_SECONDS,
      );
    case 'work_busy':
      throw new TooManyRequestsError(
        `The tenant's running requests already imply ${result.active_evaluations} of ` +
          `${input.max_evaluations} network evaluations; this one needs ${input.evaluations}. Retry later.`,
        BUSY_RETRY_SECONDS,
      );
    case 'in_flight':
      throw new ConflictError(
        'idempotency_key_in_flight',
        'The first request with this Idempotency-Key is still running; retry after it ends to get its result.',
        { 'Retry-After': String(BUSY_RETRY_SECONDS) },
      );
    case 'key_reused':
      throw new InputError(
        'idempotency_key_reused',
        `This Idempotency-Key was used with a different request (a ${result.operation === 'job' ? 'job' : 'one-shot segmentation'}); use a new key.`,
      );
  }
}
