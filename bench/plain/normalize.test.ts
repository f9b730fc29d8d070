// The plain baseline agrees with the WASM kernel on golden cases (tolerance 1e-5 x output range).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dataRange, maxAbsDiff } from '../../test/support/compare.js';
import { goldens } from '../../test/support/goldens.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import * as wasm from '../../wasm/src/normalize.js';
import { ctNormalize, zscoreNormalize } from './normalize.js';

test('plain normalisation agrees with the wasm kernel', async () => {
  const core = await sharedKernels();
  const g = goldens<unknown>('normalize');
  const x = g.npy('brain_zscore_in.npy').data as Float32Array;
  const mask = g.npy('brain_zscore_masked_mask.npy').data as Uint8Array;
  const stats = { mean: 60, std: 25, p00_5: 10, p99_5: 90 };
  const pairs = [
    [zscoreNormalize(x, mask), wasm.zscoreNormalize(core, x, mask)],
    [zscoreNormalize(x), wasm.zscoreNormalize(core, x)],
    [ctNormalize(x, stats), wasm.ctNormalize(core, x, stats)],
  ];
  for (const [plain, kernel] of pairs) assert.ok(maxAbsDiff(plain, kernel) <= 1e-5 * dataRange(kernel));
});
