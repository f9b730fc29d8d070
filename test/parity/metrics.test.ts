// Parity: Dice, ASD and HD95 against a numpy/scipy reference (binary_erosion surfaces,
// distance_transform_edt with sampling, np.percentile) written in goldens_metrics.py.
// Tolerance: 1e-6 relative (dice exact up to rounding); null where the reference is null.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { binaryMetrics, labelMetrics, type OverlapMetrics } from '../../wasm/src/metrics.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { goldens } from '../support/goldens.js';
import { niftiShape } from '../support/npy.js';

interface MetricsCase {
  name: string;
  kind: 'binary' | 'labels';
  pred: string;
  ref: string;
  spacing: [number, number, number];
  labels?: number[];
  expected: Record<string, OverlapMetrics>;
}

const RELATIVE = 1e-6;
const g = goldens<MetricsCase>('metrics');

function close(actual: number | null, expected: number | null, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, `${what} should be null`);
    return;
  }
  assert.ok(actual !== null, `${what} is null, expected ${expected}`);
  const err = Math.abs(actual - expected);
  assert.ok(err <= RELATIVE * Math.abs(expected), `${what}: ${actual} vs ${expected} (error ${err})`);
}

for (const c of g.cases) {
  test(`metrics parity: ${c.name}`, async () => {
    const core = await sharedKernels();
    const p = g.npy(c.pred);
    const r = g.npy(c.ref);
    const shape = niftiShape(p.shape);
    const got =
      c.kind === 'binary'
        ? { '1': binaryMetrics(core, p.data as Uint8Array, r.data as Uint8Array, shape, c.spacing) }
        : labelMetrics(core, p.data, r.data, shape, c.spacing, c.labels!);
    assert.deepEqual(Object.keys(got).sort(), Object.keys(c.expected).sort());
    for (const [label, e] of Object.entries(c.expected)) {
      close(got[label].dice, e.dice, `label ${label} dice`);
      close(got[label].asd_mm, e.asd_mm, `label ${label} asd`);
      close(got[label].hd95_mm, e.hd95_mm, `label ${label} hd95`);
    }
  });
}
