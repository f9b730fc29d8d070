import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryKv } from '../test-doubles.js';
import { chargeMicros, modelPrice, parsePriceTable, PRICE_TABLE_KEY, readPriceTable } from './price.js';

const price = (base_micros: number, per_megavoxel_micros: number) => ({
  currency: 'USD',
  base_micros,
  per_megavoxel_micros,
});

describe('chargeMicros', () => {
  it('is the base plus the rate per megavoxel', () => {
    assert.equal(chargeMicros(price(10_000, 2_000), 0), 10_000);
    assert.equal(chargeMicros(price(10_000, 2_000), 3_000_000), 16_000);
    assert.equal(chargeMicros(price(0, 0), 123_456_789), 0);
    // README: 20000 + 1337 x 0.065536 megavoxels (a 256 x 256 slice) = 20087.62...
    assert.equal(chargeMicros(price(20_000, 1_337), 256 * 256), 20_088);
  });

  it('rounds the variable part half up to a whole micro-unit', () => {
    assert.equal(chargeMicros(price(0, 1), 499_999), 0);
    assert.equal(chargeMicros(price(0, 1), 500_000), 1);
    assert.equal(chargeMicros(price(0, 1), 1_499_999), 1);
    assert.equal(chargeMicros(price(0, 1), 1_500_000), 2);
    assert.equal(chargeMicros(price(0, 3), 166_667), 1); // 0.500001
    assert.equal(chargeMicros(price(0, 3), 166_666), 0); // 0.499998
  });

  it('stays exact where rate x voxels passes 2^53', () => {
    // 20642857 x 1000000007 = 20642857144499999: 20642857144.499999 micro-units round down. In
    // doubles the product rounds to ...500000 and the charge came out one micro-unit high.
    assert.equal(chargeMicros(price(0, 20_642_857), 1_000_000_007), 20_642_857_144);
    assert.equal(chargeMicros(price(1, 20_642_857), 1_000_000_007), 20_642_857_145);
  });

  it('refuses voxel counts that are not whole, and a charge past the safe integers', () => {
    for (const voxels of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
      assert.throws(() => chargeMicros(price(1, 1), voxels), RangeError, String(voxels));
    }
    assert.throws(() => chargeMicros(price(Number.MAX_SAFE_INTEGER, 1), 1_000_000), RangeError);
    assert.equal(chargeMicros(price(Number.MAX_SAFE_INTEGER - 1, 1), 1_000_000), Number.MAX_SAFE_INTEGER);
  });
});

describe('parsePriceTable', () => {
  it('keeps a valid table as it is', () => {
    const text = '{"currency": "EUR", "models": {"a": {"base_micros": 0, "per_megavoxel_micros": 9}}}';
    assert.deepEqual(parsePriceTable(text), JSON.parse(text));
    assert.deepEqual(parsePriceTable('{"currency": "USD", "models": {}}'), { currency: 'USD', models: {} });
  });

  it('refuses amounts that are not non-negative safe integers, and tables of another shape', () => {
    const model = (p: unknown) => JSON.stringify({ currency: 'USD', models: { a: p } });
    for (const text of [
      model({ base_micros: -1, per_megavoxel_micros: 0 }),
      model({ base_micros: 1.5, per_megavoxel_micros: 0 }),
      model({ base_micros: '20000', per_megavoxel_micros: 0 }),
      model({ base_micros: 0, per_megavoxel_micros: 2 ** 53 }),
      model({ base_micros: 0 }),
      model(null),
      '{"currency": "USD", "models": null}',
      '{"currency": "USD", "models": [{"base_micros": 1, "per_megavoxel_micros": 1}]}',
      '{"currency": 840, "models": {}}',
      '{"models": {}}',
      'null',
      '[]',
    ]) {
      assert.throws(() => parsePriceTable(text), RangeError, text);
    }
    assert.throws(() => parsePriceTable('{"currency": '), SyntaxError);
  });
});

describe('modelPrice', () => {
  const table = parsePriceTable(
    '{"currency": "EUR", "models": {"a": {"base_micros": 1, "per_megavoxel_micros": 2}}}',
  );

  it("gives a model's price in the table's currency", () => {
    assert.deepEqual(modelPrice(table, 'a'), { currency: 'EUR', base_micros: 1, per_megavoxel_micros: 2 });
  });

  it('has no price for a model the table does not list, inherited names included', () => {
    for (const id of ['b', 'toString', 'constructor', '__proto__'])
      assert.equal(modelPrice(table, id), null, id);
  });
});

describe('readPriceTable', () => {
  const fallback = parsePriceTable(
    '{"currency": "USD", "models": {"a": {"base_micros": 1, "per_megavoxel_micros": 1}}}',
  );
  const kvTable = '{"currency": "EUR", "models": {"b": {"base_micros": 2, "per_megavoxel_micros": 2}}}';

  it('prefers the KV table whole over the fallback', async () => {
    assert.deepEqual(
      await readPriceTable(memoryKv({ [PRICE_TABLE_KEY]: kvTable }), fallback),
      JSON.parse(kvTable),
    );
  });

  it('uses the fallback without a KV table, else prices nothing', async () => {
    assert.equal(await readPriceTable(memoryKv(), fallback), fallback);
    assert.deepEqual(await readPriceTable(memoryKv(), null), { currency: 'USD', models: {} });
  });

  it('refuses a malformed KV table rather than charging from it', async () => {
    const text = '{"currency": "USD", "models": {"a": {"base_micros": "20000", "per_megavoxel_micros": 1}}}';
    await assert.rejects(readPriceTable(memoryKv({ [PRICE_TABLE_KEY]: text }), fallback), RangeError);
    await assert.rejects(readPriceTable(memoryKv({ [PRICE_TABLE_KEY]: 'not json' }), fallback), SyntaxError);
  });
});
