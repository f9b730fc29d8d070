// The plain baseline agrees with the WASM kernel on a golden case (1e-6 relative).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goldens } from '../../test/support/goldens.js';
import { niftiShape } from '../../test/support/npy.js';
import * as wasm from '../../wasm/src/metrics.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { labelMetrics } from './metrics.js';

test('plain metrics agree with the wasm kernel', async () => {
  const core = await sharedKernels();
  const g = goldens<unknown>('metrics');
  const p = g.npy('aniso_labels_pred.npy');
  const r = g.npy('aniso_labels_ref.npy');
  const shape = niftiShape(p.shape);
  const labels = [1, 2, 3, 4, 5, 6];
  const plain = labelMetrics(p.data, r.data, shape, [2, 2, 3], labels);
  const kernel = wasm.labelMetrics(core, p.data, r.data, shape, [2, 2, 3], labels);
  for (const l of labels) {
    const a = plain[String(l)];
    const b = kernel[String(l)];
    assert.equal(a.dice, b.dice);
    for (const k of ['asd_mm', 'hd95_mm'] as const) {
      if (a[k] === null) assert.equal(b[k], null);
      else assert.ok(Math.abs(a[k] - b[k]!) <= 1e-6 * a[k], `label ${l} ${k}: ${a[k]} vs ${b[k]}`);
    }
  }
});
