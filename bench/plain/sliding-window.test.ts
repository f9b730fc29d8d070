// The plain baseline agrees with the WASM kernels on a golden case (map 1e-7, logits 1e-5 relative).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maxAbsDiff } from '../../test/support/compare.js';
import { goldens } from '../../test/support/goldens.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import type { Shape3 } from '../../wasm/src/shape.js';
import * as wasm from '../../wasm/src/sliding-window.js';
import { gaussianImportanceMap, PatchAccumulator } from './sliding-window.js';

interface AccCase {
  channels: number;
  volume: Shape3;
  patch: Shape3;
  offsets: [number, number, number][];
  patches: string;
}

test('plain sliding-window aggregation agrees with the wasm kernels', async () => {
  const core = await sharedKernels();
  const g = goldens<unknown>('sliding_window');
  const c = (g.cases as unknown as { accumulate: AccCase[] }).accumulate[0];
  assert.ok(maxAbsDiff(gaussianImportanceMap(c.patch), wasm.gaussianImportanceMap(core, c.patch)) <= 1e-7);
  const patches = g.npy(c.patches).data as Float32Array;
  const per = patches.length / c.offsets.length;
  const plain = new PatchAccumulator(c.channels, c.volume, c.patch);
  const kernel = new wasm.PatchAccumulator(core, c.channels, c.volume, c.patch);
  c.offsets.forEach((o, k) => {
    plain.add(patches.subarray(k * per, (k + 1) * per), o);
    kernel.add(patches.subarray(k * per, (k + 1) * per), o);
  });
  const want = kernel.finish();
  assert.ok(maxAbsDiff(plain.finish(), want) <= 1e-5 * Math.max(...Array.from(want, Math.abs)));
});
