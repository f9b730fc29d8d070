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

test('blocks of 16 voxels: empty, full and partial mask blocks, tails, and a separate output', async () => {
  const core = await sharedKernels();
  const all = brain();
  const len = 16 * 9 + 7;
  const x = all.slice(20000, 20000 + len * 7).filter((_, i) => i % 7 === 0);
  // Block 0 empty, block 1 full, then partial patterns; the 7-voxel tail is half set.
  const m8 = Uint8Array.from(x, (_, i) => {
    const block = i >> 4;
    if (block === 0 || block === 4) return 0;
    if (block === 1 || block === 5) return 1;
    return (i * 7 + block) % 3 === 0 ? 1 : 0;
  });
  const want = reference(x, (i) => m8[i] === 1);
  const got = zscoreNormalize(core, x, m8);
  for (let i = 0; i < len; i++)
    assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])), `voxel ${i}`);
  const unmasked = zscoreNormalize(core, x);
  const wantAll = reference(x, () => true);
  for (let i = 0; i < len; i++)
    assert.ok(Math.abs(unmasked[i] - wantAll[i]) <= 1e-5 * (1 + Math.abs(wantAll[i])), `voxel ${i}`);
  // The kernel's contract allows out != data: masked-out voxels, skipped blocks included, are copied.
  type Apply = (
    o: number,
    d: number,
    n: number,
    m: number,
    lo: number,
    hi: number,
    mean: number,
    inv: number,
  ) => void;
  const out = core.run((heap) => {
    const d = heap.put(x);
    const m = heap.put(m8);
    const o = heap.alloc(x.byteLength);
    core.fn<Apply>('norm_apply_f32')(o, d, len, m, -Infinity, Infinity, 10, 0.5);
    return heap.take(Float32Array, o, len);
  });
  for (let i = 0; i < len; i++)
    assert.equal(out[i], m8[i] ? Math.fround((x[i] - 10) * 0.5) : x[i], `voxel ${i}`);
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
