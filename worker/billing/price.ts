/**
 * @module
 * The price table (KV key `prices`) and the price of one job: the model's base plus a rate per
 * megavoxel. Money is integer micro-units of the table's currency, so sums are exact.
 */
import type { ApiPrice } from '../../engine/edge.js';
import type { Charge, ChargeInput } from './ledger-types.js';

/** The price of one model: the wire type of `GET /v1/models`' `price`. */
export type ModelPrice = ApiPrice;

/** The stored table: one currency, a price per model id. */
export interface PriceTable {
  currency: string;
  models: Record<string, { base_micros: number; per_megavoxel_micros: number }>;
}

/** KV key of the price table. */
export const PRICE_TABLE_KEY = 'prices';

/**
 * Reads the price table from KV; without one, `fallback` (wrangler's DEFAULT_PRICES), else nothing
 * is priced. The KV table is checked as DEFAULT_PRICES is: a hand-written `"base_micros": "20000"`
 * would otherwise be added as text (`"20000" + 3` is `"200003"`) into a charge.
 */
export async function readPriceTable(kv: KVNamespace, fallback: PriceTable | null): Promise<PriceTable> {
  const text = await kv.get(PRICE_TABLE_KEY, 'text');
  if (text !== null) return parsePriceTable(text);
  return fallback ?? { currency: 'USD', models: {} };
}

/** Parses a price table from JSON text, checking that every amount is a non-negative integer. */
export function parsePriceTable(text: string): PriceTable {
  const table = JSON.parse(text) as PriceTable;
  const amount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  const ok =
    typeof table?.currency === 'string' &&
    typeof table.models === 'object' &&
    table.models !== null &&
    !Array.isArray(table.models) &&
    Object.values(table.models).every((p) => amount(p?.base_micros) && amount(p?.per_megavoxel_micros));
  if (!ok)
    throw new RangeError('a price table is {currency, models: {id: {base_micros, per_megavoxel_micros}}}');
  return table;
}

/** The price of `model`, or null when the table has none (`toString` is no model of a parsed table). */
export function modelPrice(table: PriceTable, model: string): ModelPrice | null {
  return Object.hasOwn(table.models, model) ? { currency: table.currency, ...table.models[model] } : null;
}

/** The charge `input` makes: its price over its voxels, at its completion time. */
export function chargeOf(input: ChargeInput): Charge {
  return {
    job_id: input.job_id,
    idempotency_key: input.idempotency_key,
    model: input.model,
    model_version: input.model_version ?? null,
    voxels: input.voxels,
    amount_micros: chargeMicros(input.price, input.voxels),
    currency: input.price.currency,
    charged_at: input.at,
    // Callers from before labels send none.
    label: input.label ?? null,
  };
}

/** Micro-units charged for a job over `voxels` voxels, rounded half up to a whole micro-unit. */
export function chargeMicros(price: ModelPrice, voxels: number): number {
  if (!Number.isSafeInteger(voxels) || voxels < 0) throw new RangeError(`bad voxel count ${voxels}`);
  // In integers: a price table may hold any safe integer, and rate x voxels past 2^53 would be
  // rounded as a double before the half-up rounding to micro-units.
  const variable = (BigInt(price.per_megavoxel_micros) * BigInt(voxels) + 500_000n) / 1_000_000n;
  const micros = BigInt(price.base_micros) + variable;
  if (micros > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`a charge of ${micros} micro-units`);
  return Number(micros);
}
