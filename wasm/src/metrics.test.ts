import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goldens } from '../../test/support/goldens.js';
import { niftiShape } from '../../test/support/npy.js';
import { KernelArgumentError } from './kernel-errors.js';
import { binaryMetrics, labelMetrics, percentileLinear } from './metrics.js';
import { sharedKernels } from './node-loader.js';

function realPair(): { pred: Uint8Array; ref: Uint8Array; shape: [number, number, number] } {
  const g = goldens<unknown>('metrics');
  const p = g.npy('wm_eroded_shifted_pred.npy');
  return {
    pred: p.data as Uint8Array,
    ref: g.npy('wm_eroded_shifted_ref.npy').data as Uint8Array,
    shape: niftiShape(p.shape),
  };
}

test('metrics are symmetric and identical masks score perfectly', async () => {
  const core = await sharedKernels();
  const { pred, ref, shape } = realPair();
  const ab = binaryMetrics(core, pred, ref, shape, [1, 2, 3]);
  const ba = binaryMetrics(core, ref, pred, shape, [1, 2, 3]);
  assert.equal(ab.dice, ba.dice);
  assert.ok(Math.abs(ab.asd_mm! - ba.asd_mm!) < 1e-9);
  assert.equal(ab.hd95_mm, ba.hd95_mm);
  assert.ok(ab.dice > 0.5 && ab.dice < 1 && ab.asd_mm! > 0);
  assert.deepEqual(
    binaryMetrics(
      core,
      ref,
      ref.map((v) => v * 255),
      shape,
      [1, 2, 3],
    ),
    {
      dice: 1,
      asd_mm: 0,
      hd95_mm: 0,
    },
  );
});

test('empty-mask conventions', async () => {
  const core = await sharedKernels();
  const { ref, shape } = realPair();
  const empty = new Uint8Array(ref.length);
  assert.deepEqual(binaryMetrics(core, empty, empty, shape, [1, 1, 1]), { dice: 1, asd_mm: 0, hd95_mm: 0 });
  assert.deepEqual(binaryMetrics(core, empty, ref, shape, [1, 1, 1]), {
    dice: 0,
    asd_mm: null,
    hd95_mm: null,
  });
  assert.deepEqual(binaryMetrics(core, ref, empty, shape, [1, 1, 1]), {
    dice: 0,
    asd_mm: null,
    hd95_mm: null,
  });
});

test('labelMetrics matches binaryMetrics per label', async () => {
  const core = await sharedKernels();
  const { pred, ref, shape } = realPair();
  const labelsPred = Int16Array.from(pred, (v, i) => (v ? 4 : i % 3 === 0 ? 2 : 0));
  const labelsRef = Int16Array.from(ref, (v) => (v ? 4 : 0));
  const m = labelMetrics(core, labelsPred, labelsRef, shape, [1, 1, 1], [4, 2]);
  assert.deepEqual(m['4'], binaryMetrics(core, pred, ref, shape, [1, 1, 1]));
  assert.deepEqual(m['2'], { dice: 0, asd_mm: null, hd95_mm: null });
});

test('percentile follows numpy linear interpolation', () => {
  // numpy.percentile([3, 1, 2, 4], 95) == 3.8499999999999996 (its lerp from the nearer end).
  assert.equal(percentileLinear(Float64Array.from([3, 1, 2, 4]), 95), 3.8499999999999996);
  assert.equal(percentileLinear(Float64Array.from([5]), 95), 5);
});

test('bad arguments throw KernelArgumentError', async () => {
  const core = await sharedKernels();
  const a = new Uint8Array(12);
  assert.throws(() => binaryMetrics(core, a, new Uint8Array(11), [3, 4, 1], [1, 1, 1]), KernelArgumentError);
  assert.throws(() => binaryMetrics(core, a, a, [3, 4, 1], [1, -1, 1]), KernelArgumentError);
  assert.throws(() => labelMetrics(core, a, a, [3, 4, 1], [1, 1, 1], [NaN]), KernelArgumentError);
});
