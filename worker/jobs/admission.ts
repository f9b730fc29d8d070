/**
 * @module
 * What every job and one-shot request passes before it runs: a known, priced model, the tenant's
 * monthly budget (402) and a concurrency slot (429), with the `Idempotency-Key` mapped in the
 * tenant's ledger so that a retried request finds its first job.
 */
import type { AdmitResult } from '../billing/ledger-types.js';
import type { Bindings } from '../app-env.js';
import type { ApiConfig } from '../config.js';
import { assertWithinBudget } from '../billing/budget.js';
import { modelPrice, readPriceTable, type ModelPrice } from '../billing/price.js';
import { findModel } from '../catalog/model-catalog.js';
import { BadRequestError, ConflictError, TooManyRequestsError } from '../http-errors.js';
import { InputError } from '../../engine/errors.js';

/** Seconds a client is told to wait when its tenant has no free slot. */
const BUSY_RETRY_SECONDS = 2;

/** The price of a bundled, priced model: 404 `model_not_found`, 409 `model_not_priced` otherwise. */
export async function priceFor(env: Bindings, config: ApiConfig, model: string): Promise<ModelPrice> {
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

/** Checks the budget at the model's base price, then takes a slot; replays come back as such. */
export async function admitJob(
  env: Bindings,
  args: {
    tenant: string;
    jobId: string;
    idempotencyKey: string | null;
    fingerprint: string;
    price: ModelPrice;
    limit: number;
    staleAfterMs: number;
    now: number;
  },
): Promise<Extract<AdmitResult, { kind: 'admitted' | 'replay' }>> {
  // The voxel count is only known once the node has read the input: the estimate is the base price.
  await assertWithinBudget(env, args.tenant, args.price.base_micros, args.now);
  const result = await env.LEDGER.getByName(args.tenant).admit({
    job_id: args.jobId,
    idempotency_key: args.idempotencyKey,
    fingerprint: args.fingerprint,
    limit: args.limit,
    now: args.now,
    stale_after_ms: args.staleAfterMs,
  });
  if (result.kind === 'busy') {
    throw new TooManyRequestsError(
      `${result.active} of ${args.limit} concurrent jobs are running; retry later.`,
      BUSY_RETRY_SECONDS,
    );
  }
  if (result.kind === 'key_reused') {
    throw new InputError('idempotency_key_reused', 'This Idempotency-Key was used with a different request.');
  }
  return result;
}
