import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goldens } from '../../test/support/goldens.js';
import { KernelArgumentError } from './kernel-errors.js';
import { sharedKernels } from './node-loader.js';
import { ctNormalize, zscoreNormalize } from './normalize.js';

// Real intensities: the skull-stripped brain crop of the parity goldens (zeros outside the brain).
const brain = (): Float32Array =>
  goldens<unknown>('normalize').npy('brain_zscore_in.npy').data as Float32Array;

/** f64 z-score over the selected voxels, the definition written out. */
function reference(x: Float32Array, sel: (i: number) => boolean): Float32Array {
  let n = 0;
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    if (sel(i)) {
      n++;
      s += x[i];
    }
  }
  const mean = s / n;
  let q = 0;
  for (let i = 0; i < x.length; i++) if (sel(i)) q += (x[i] - mean) ** 2;
  const std = Math.max(Math.sqrt(q / n), 1e-8);
  return x.map((v, i) => (sel(i) ? (v - mean) / std : v));
}

test('z-score on lengths 1..13 (SIMD body and scalar tail), with and without a mask', async () => {
  const core = await sharedKernels();
  const all = brain();
  for (let len = 1; len <= 13; len++) {
    // Voxels from the brain's edge: a mix of zeros and tissue.
    const x = all.slice(20000, 20000 + len * 37).filter((_, i) => i % 37 === 0);
    const mask = x.map((v) => (v > 0 ? 1 : 0)) as unknown as Uint8Array;
    const m8 = Uint8Array.from(mask);
    const cases: [Float32Array, Float32Array][] = [
      [zscoreNormalize(core, x), reference(x, () => true)],
      [zscoreNormalize(core, x, m8), m8.some((v) => v) ? reference(x, (i) => m8[i] === 1) : x],
    ];
    for (const [got, want] of cases) {
      for (let i = 0; i < len; i++)
        assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])), `len ${len} voxel ${i}`);
    }
  }
});

test('a constant image becomes zeros (std floored at 1e-8) and an empty mask changes nothing', async () => {
  const core = await sharedKernels();
  assert.deepEqual(zscoreNormalize(core, new Float32Array(11).fill(7.5)), new Float32Array(11));
  const x = brain().subarray(0, 1001);
  assert.deepEqual(zscoreNormalize(core, x, new Uint8Array(1001)), x);
});

test('the masked z-score uses and changes only mask voxels; inputs stay unchanged', async () => {
  const core = await sharedKernels();
  const x = brain();
  const mask = Uint8Array.from(x, (v) => (v > 0 ? 1 : 0));
  const copy = x.slice();
  const out = zscoreNormalize(core, x, mask);
  assert.deepEqual(x, copy);
  let n = 0;
  let s = 0;
  let q = 0;
  for (let i = 0; i < x.length; i++) {
    if (mask[i]) {
      n++;
      s += out[i];
      q += out[i] * out[i];
    } else {
      assert.equal(out[i], x[i]);
    }
  }
  assert.ok(Math.abs(s / n) < 1e-5 && Math.abs(q / n - 1) < 1e-5, `mask voxels: mean ${s / n}, var ${q / n}`);
});

test('CT: clip to the percentiles, shift and scale; a mask limits the change', async () => {
  const core = await sharedKernels();
  const x = brain().slice(0, 4099);
  const stats = { mean: 60, std: 25, p00_5: 10, p99_5: 90 };
  const out = ctNormalize(core, x, stats);
  for (let i = 0; i < x.length; i++) {
    const want = (Math.min(Math.max(x[i], 10), 90) - 60) / 25;
    assert.ok(Math.abs(out[i] - want) <= 1e-6, `voxel ${i}`);
  }
  const mask = Uint8Array.from(x, (_, i) => i % 3);
  const masked = ctNormalize(core, x, stats, mask);
  for (let i = 0; i < x.length; i++) assert.equal(masked[i], mask[i] ? out[i] : x[i]);
});

test('bad arguments throw KernelArgumentError', async () => {
  const core = await sharedKernels();
  const x = new Float32Array(10);
  const stats = { mean: 0, std: 1, p00_5: -1, p99_5: 1 };
  assert.throws(() => zscoreNormalize(core, x, new Uint8Array(9)), KernelArgumentError);
  assert.throws(() => zscoreNormalize(core, new Float32Array(0)), KernelArgumentError);
  assert.throws(
    () => zscoreNormalize(core, new Float64Array(4) as unknown as Float32Array),
    KernelArgumentError,
  );
  assert.throws(() => ctNormalize(core, x, stats, new Uint8Array(11)), KernelArgumentError);
  assert.throws(() => ctNormalize(core, x, { ...stats, p00_5: 2 }), KernelArgumentError);
  assert.throws(() => ctNormalize(core, x, { ...stats, mean: NaN }), KernelArgumentError);
});
