import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goldens } from '../../test/support/goldens.js';
import { KernelArgumentError } from './kernel-errors.js';
import { sharedKernels } from './node-loader.js';
import type { Shape3 } from './shape.js';
import { computeSlidingWindowSteps, gaussianImportanceMap, PatchAccumulator } from './sliding-window.js';

// Logits-like planes from the softmax goldens (normalised real MR), tiled to any length.
function realLogits(length: number): Float32Array {
  const pool = goldens<unknown>('softmax').npy('slab_2d_logits.npy').data as Float32Array;
  return Float32Array.from({ length }, (_, i) => pool[(i * 7) % pool.length]);
}

test('the Gaussian map peaks at patch // 2 with value 1 and is symmetric about it', async () => {
  const core = await sharedKernels();
  const patch: Shape3 = [9, 6, 1];
  const g = gaussianImportanceMap(core, patch);
  assert.equal(g[3 * 9 + 4], 1);
  assert.equal(Math.max(...g), 1);
  for (let y = 0; y < 6; y++) {
    for (let x = 0; x < 9; x++) {
      const my = 6 - y; // mirror of y about 3; y = 0 has no mirror inside the patch
      if (my < 6) assert.ok(Math.abs(g[y * 9 + x] - g[my * 9 + (8 - x)]) < 1e-7);
    }
  }
  assert.deepEqual(Array.from(gaussianImportanceMap(core, [1, 1, 1])), [1]);
  // A wider sigma flattens the map.
  assert.ok(gaussianImportanceMap(core, patch, 1 / 2)[0] > g[0]);
});

test('steps cover the image: first 0, last size - patch, one step when sizes match', () => {
  const steps = computeSlidingWindowSteps([299, 301, 37], [160, 96, 20], 0.5);
  steps.forEach((s, d) => {
    assert.equal(s[0], 0);
    assert.equal(s[s.length - 1], [299, 301, 37][d] - [160, 96, 20][d]);
  });
  assert.deepEqual(computeSlidingWindowSteps([5, 1, 1], [5, 1, 1]), [[0], [0], [0]]);
});

test('a whole-slab patch (3 x 512 x 512 x 1) comes back unchanged', async () => {
  const core = await sharedKernels();
  const shape: Shape3 = [512, 512, 1];
  const logits = realLogits(3 * 512 * 512);
  const acc = new PatchAccumulator(core, 3, shape, shape);
  acc.add(logits, [0, 0, 0]);
  const out = acc.finish();
  for (let i = 0; i < out.length; i++)
    assert.ok(Math.abs(out[i] - logits[i]) <= 1e-6 * (1 + Math.abs(logits[i])), `[${i}]`);
});

test('overlapping windows on an odd volume average constant logits to that constant', async () => {
  const core = await sharedKernels();
  const volume: Shape3 = [13, 7, 5];
  const patch: Shape3 = [6, 7, 3];
  const acc = new PatchAccumulator(core, 2, volume, patch);
  const [xs, ys, zs] = computeSlidingWindowSteps(volume, patch);
  const values = new Float32Array(2 * 6 * 7 * 3).fill(2.5, 0, 126).fill(-1.25, 126);
  for (const z of zs) for (const y of ys) for (const x of xs) acc.add(values, [x, y, z]);
  const out = acc.finish();
  for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i] - (i < 455 ? 2.5 : -1.25)) < 1e-6);
});

test('bad arguments throw KernelArgumentError', async () => {
  const core = await sharedKernels();
  assert.throws(() => computeSlidingWindowSteps([10, 10, 10], [20, 5, 5]), KernelArgumentError);
  assert.throws(() => computeSlidingWindowSteps([10, 10, 10], [5, 5, 5], 0), KernelArgumentError);
  assert.throws(() => computeSlidingWindowSteps([10, 10, 10], [5, 5, 5], 1.5), KernelArgumentError);
  assert.throws(() => gaussianImportanceMap(core, [0, 4, 4]), KernelArgumentError);
  assert.throws(() => gaussianImportanceMap(core, [4, 4, 4], -1), KernelArgumentError);
  assert.throws(() => new PatchAccumulator(core, 2, [4, 4, 4], [5, 4, 4]), KernelArgumentError);
  assert.throws(() => new PatchAccumulator(core, 0, [4, 4, 4], [4, 4, 4]), KernelArgumentError);
  const acc = new PatchAccumulator(core, 2, [8, 4, 4], [4, 4, 4]);
  assert.throws(() => acc.add(new Float32Array(64), [0, 0, 0]), KernelArgumentError);
  assert.throws(() => acc.add(new Float32Array(128), [5, 0, 0]), KernelArgumentError);
  assert.throws(() => acc.add(new Float32Array(128), [0.5, 0, 0]), KernelArgumentError);
  acc.add(new Float32Array(128), [0, 0, 0]);
  assert.throws(() => acc.finish(), KernelArgumentError); // x 4..7 never covered
  assert.throws(() => acc.add(new Float32Array(128), [4, 0, 0]), KernelArgumentError);
});
