// Parity: softmax over channels against scipy.special.softmax(axis=0) (f64) and argmax against
// numpy's argmax(axis=0), on [C][N] stacks of logits-like planes made from real images.
// Tolerance: softmax max abs error <= 1e-6; argmax identical (ties: first channel wins).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { argmax, softmax } from '../../wasm/src/softmax.js';
import { firstMismatch, maxAbsDiff } from '../support/compare.js';
import { goldens } from '../support/goldens.js';

interface SoftmaxCase {
  name: string;
  channels: number;
  shape: number[];
  logits: string;
  softmax: string;
  argmax: string;
}

const TOLERANCE = 1e-6;
const g = goldens<SoftmaxCase>('softmax');

for (const c of g.cases) {
  test(`softmax parity: ${c.name}`, async () => {
    const core = await sharedKernels();
    const logits = g.npy(c.logits).data as Float32Array;
    const p = softmax(core, logits, c.channels);
    const err = maxAbsDiff(p, g.npy(c.softmax).data);
    assert.ok(err <= TOLERANCE, `softmax max error ${err}`);
    const a = argmax(core, logits, c.channels);
    assert.equal(firstMismatch(a, g.npy(c.argmax).data), -1, 'argmax differs from numpy');
  });
}
