// Parity: intensity normalisation against nnU-Net v2's ZScoreNormalization (numpy, f64 statistics)
// and CTNormalization (numpy f32 steps, as nnU-Net runs them).
// Tolerance: max |ours - numpy| <= 1e-5 * (max - min of the expected normalised voxels); voxels outside
// a mask keep their raw value exactly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ctNormalize, zscoreNormalize, type CtStats } from '../../wasm/src/normalize.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { dataRange, firstMismatch, maxAbsDiff } from '../support/compare.js';
import { goldens } from '../support/goldens.js';

interface NormalizeCase {
  name: string;
  kind: 'zscore' | 'ct';
  image: string;
  expected: string;
  mask?: string;
  stats?: CtStats;
}

const RELATIVE_TOLERANCE = 1e-5;
const g = goldens<NormalizeCase>('normalize');

for (const c of g.cases) {
  test(`normalize parity: ${c.name}`, async () => {
    const core = await sharedKernels();
    const image = g.npy(c.image).data as Float32Array;
    const before = image.slice();
    const mask = c.mask === undefined ? undefined : (g.npy(c.mask).data as Uint8Array);
    const out =
      c.kind === 'zscore' ? zscoreNormalize(core, image, mask) : ctNormalize(core, image, c.stats!, mask);
    const expected = g.npy(c.expected).data;
    const changed = mask ? expected.filter((_, i) => mask[i] !== 0) : expected;
    const err = maxAbsDiff(out, expected);
    assert.ok(
      err <= RELATIVE_TOLERANCE * dataRange(changed),
      `max error ${err}, range ${dataRange(changed)}`,
    );
    assert.equal(firstMismatch(image, before), -1, 'input changed');
    if (mask) {
      // Voxels outside the mask keep their exact raw value.
      for (let i = 0; i < mask.length; i++) if (!mask[i]) assert.equal(out[i], image[i]);
    }
  });
}
