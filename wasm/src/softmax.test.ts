import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goldens } from '../../test/support/goldens.js';
import { KernelArgumentError } from './kernel-errors.js';
import { sharedKernels } from './node-loader.js';
import { argmax, softmax } from './softmax.js';

// Logits-like values from the parity goldens (normalised real image planes).
const logitsPool = (): Float32Array =>
  goldens<unknown>('softmax').npy('mr_five_logits.npy').data as Float32Array;

function plainSoftmax(x: Float32Array, c: number): Float64Array {
  const n = x.length / c;
  const out = new Float64Array(x.length);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let k = 0; k < c; k++) m = Math.max(m, x[k * n + i]);
    let s = 0;
    for (let k = 0; k < c; k++) s += Math.exp(x[k * n + i] - m);
    for (let k = 0; k < c; k++) out[k * n + i] = Math.exp(x[k * n + i] - m) / s;
  }
  return out;
}

test('softmax and argmax on 1..9 voxels with 1..4 channels match the definition', async () => {
  const core = await sharedKernels();
  const pool = logitsPool();
  for (let n = 1; n <= 9; n++) {
    for (let c = 1; c <= 4; c++) {
      const x = pool.slice(n * 101, n * 101 + n * c);
      const p = softmax(core, x, c);
      const want = plainSoftmax(x, c);
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(p[i] - want[i]) <= 1e-6, `n ${n} c ${c} [${i}]`);
      const a = argmax(core, x, c);
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let k = 1; k < c; k++) if (x[k * n + i] > x[best * n + i]) best = k;
        assert.equal(a[i], best, `n ${n} c ${c} voxel ${i}`);
      }
    }
  }
});

test('the vectorised exp has ~1e-7 relative error across the f32 range', async () => {
  const core = await sharedKernels();
  // Channel 1 = 0 and channel 0 = x <= 0 gives p0 = e^x / (1 + e^x): its relative error is exp's.
  const n = 20001;
  const x = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) x[i] = Math.fround(-87 + (87 * i) / (n - 1));
  const p = softmax(core, x, 2);
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(x[i]);
    worst = Math.max(worst, Math.abs(p[i] - e / (1 + e)) / (e / (1 + e)));
  }
  assert.ok(worst < 5e-7, `relative error ${worst}`);
});

test('huge logit gaps stay finite; ties and NaN follow numpy argmax', async () => {
  const core = await sharedKernels();
  const x = Float32Array.from([3e38, -3e38, 0, 5, -3e38, 3e38, 0, 5]);
  assert.deepEqual(Array.from(softmax(core, x, 2)), [1, 0, 0.5, 0.5, 0, 1, 0.5, 0.5]);
  assert.deepEqual(Array.from(argmax(core, x, 2)), [0, 1, 0, 0]);
  const nan = Float32Array.from([1, NaN, 2, 7, 9, 3, NaN, 7, NaN, 4, 1, 7]);
  assert.deepEqual(Array.from(argmax(core, nan, 3)), [2, 0, 1, 0]);
});

test('bad arguments throw KernelArgumentError', async () => {
  const core = await sharedKernels();
  const x = new Float32Array(12);
  assert.throws(() => softmax(core, x, 5), KernelArgumentError);
  assert.throws(() => softmax(core, x, 0), KernelArgumentError);
  assert.throws(() => softmax(core, x, 1.5), KernelArgumentError);
  assert.throws(() => softmax(core, new Float32Array(0), 1), KernelArgumentError);
  assert.throws(() => argmax(core, new Float32Array(257), 257), KernelArgumentError);
  assert.throws(() => argmax(core, new Int32Array(4) as unknown as Float32Array, 2), KernelArgumentError);
});
