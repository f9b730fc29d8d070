/**
 * @module
 * The price table (KV key `prices`) and the price of one job: the model's base plus a rate per
 * megavoxel. Money is integer micro-units of the table's currency, so sums are exact.
 */
import type { ApiPrice } from '../../engine/edge.js';

/** The price of one model: the wire type of `GET /v1/models`' `price`. */
export type ModelPrice = ApiPrice;

/** The stored table: one currency, a price per model id. */
export interface PriceTable {
  currency: string;
  models: Record<string, { base_micros: number; per_megavoxel_micros: number }>;
}

/** KV key of the price table. */
export const PRICE_TABLE_KEY = 'prices';

/** Reads the price table from KV; without one, `fallback` (wrangler's DEFAULT_PRICES), else nothing is priced. */
export async function readPriceTable(kv: KVNamespace, fallback: PriceTable | null): Promise<PriceTable> {
  return (await kv.get<PriceTable>(PRICE_TABLE_KEY, 'json')) ?? fallback ?? { currency: 'USD', models: {} };
}

/** Parses a price table from JSON text, checking that every amount is a non-negative integer. */
export function parsePriceTable(text: string): PriceTable {
  const table = JSON.parse(text) as PriceTable;
  const amount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  const ok =
    typeof table?.currency === 'string' &&
    typeof table.models === 'object' &&
    Object.values(table.models).every((p) => amount(p?.base_micros) && amount(p?.per_megavoxel_micros));
  if (!ok)
    throw new RangeError('a price table is {currency, models: {id: {base_micros, per_megavoxel_micros}}}');
  return table;
}

/** The price of `model`, or null when the table has none. */
export function modelPrice(table: PriceTable, model: string): ModelPrice | null {
  const p = table.models[model];
  return p ? { currency: table.currency, ...p } : null;
}

/** Micro-units charged for a job over `voxels` voxels, rounded half up to a whole micro-unit. */
export function chargeMicros(price: ModelPrice, voxels: number): number {
  if (!Number.isSafeInteger(voxels) || voxels < 0) throw new RangeError(`bad voxel count ${voxels}`);
  // per_megavoxel * voxels stays below 2^53 for any price under 9e6 units per megavoxel and 1e9 voxels.
  return price.base_micros + Math.floor((price.per_megavoxel_micros * voxels + 500_000) / 1_000_000);
}
