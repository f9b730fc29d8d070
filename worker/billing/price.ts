/**
 * @module
 * The price table (KV key `prices`) and the price of one job: the model's base plus a rate per
 * megavoxel. Money is integer micro-units of the table's currency, so sums are exact.
 */

/** The price of one model. */
export interface ModelPrice {
  currency: string;
  base_micros: number;
  per_megavoxel_micros: number;
}

/** The stored table: one currency, a price per model id. */
export interface PriceTable {
  currency: string;
  models: Record<string, { base_micros: number; per_megavoxel_micros: number }>;
}

/** KV key of the price table. */
export const PRICE_TABLE_KEY = 'prices';

/** Reads the price table; an absent table prices nothing. */
export async function readPriceTable(kv: KVNamespace): Promise<PriceTable> {
  return (await kv.get<PriceTable>(PRICE_TABLE_KEY, 'json')) ?? { currency: 'USD', models: {} };
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
