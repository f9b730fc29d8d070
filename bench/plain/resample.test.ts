// The plain baseline agrees with the WASM kernel and the goldens: data within 1e-3 * range (order 3)
// and 1e-5 * range (orders 0/1); label maps identical on cases without exact 0.5 ties.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dataRange, firstMismatch, maxAbsDiff } from '../../test/support/compare.js';
import { goldens } from '../../test/support/goldens.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import * as wasm from '../../wasm/src/resample.js';
import type { Shape3 } from '../../wasm/src/shape.js';
import { resampleLabels, resampleVolume } from './resample.js';

interface Case {
  name: string;
  input: string;
  output: string;
  order: wasm.InterpOrder;
  orderZ: wasm.InterpOrder;
  separateZAxis: 0 | 1 | 2 | null;
  shape: Shape3;
  newShape: Shape3;
}

const g = goldens<Case>('resample');
const byName = (n: string): Case => g.cases.find((c) => c.name === n)!;

for (const name of ['brain_down_o3', 'brain_up_o1', 'aniso_o3z3', 'size_one_o0']) {
  test(`plain resampleVolume agrees with the wasm kernel: ${name}`, async () => {
    const core = await sharedKernels();
    const c = byName(name);
    const input = g.npy(c.input).data as Float32Array;
    const opts = { order: c.order, orderZ: c.orderZ, separateZAxis: c.separateZAxis };
    const plain = resampleVolume(input, c.shape, c.newShape, opts);
    const kernel = wasm.resampleVolume(core, input, c.shape, c.newShape, opts);
    const tol = (c.order === 3 || c.orderZ === 3 ? 1e-3 : 1e-5) * dataRange(input);
    assert.ok(maxAbsDiff(plain, kernel) <= tol);
    assert.ok(maxAbsDiff(plain, g.npy(c.output).data) <= tol);
  });
}

for (const name of ['kmeans_iso_o1', 'kmeans_aniso_o1z1', 'wm_down_o0']) {
  test(`plain resampleLabels agrees with the wasm kernel: ${name}`, async () => {
    const core = await sharedKernels();
    const c = byName(name);
    const labels = g.npy(c.input).data as Uint8Array | Int16Array;
    const opts = { order: c.order, orderZ: c.orderZ, separateZAxis: c.separateZAxis };
    const plain = resampleLabels(labels, c.shape, c.newShape, opts);
    assert.equal(firstMismatch(plain, wasm.resampleLabels(core, labels, c.shape, c.newShape, opts)), -1);
    assert.equal(firstMismatch(plain, g.npy(c.output).data), -1);
  });
}
