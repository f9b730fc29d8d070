import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goldens } from '../../test/support/goldens.js';
import { niftiShape } from '../../test/support/npy.js';
import { keepLargestComponent, labelComponents } from './components.js';
import { KernelArgumentError } from './kernel-errors.js';
import { sharedKernels } from './node-loader.js';
import type { Shape3 } from './shape.js';

test('labels of a real crop: sizes add up, numbering follows first appearance, any non-zero counts', async () => {
  const core = await sharedKernels();
  const m = goldens<unknown>('components').npy('wm_crop_mask.npy');
  const shape = niftiShape(m.shape);
  const mask = (m.data as Uint8Array).map((v) => v * 7);
  const cc = labelComponents(core, mask, shape);
  assert.ok(cc.count > 1);
  assert.equal(
    cc.sizes.reduce((a, b) => a + b, 0),
    mask.reduce((a, v) => a + (v ? 1 : 0), 0),
  );
  let next = 1;
  for (const l of cc.labels) {
    if (l > next) assert.fail(`label ${l} appears before ${next}`);
    if (l === next) next++;
  }
  assert.equal(next, cc.count + 1);
  const keep = keepLargestComponent(core, mask, shape);
  const largest = cc.sizes.indexOf(Math.max(...cc.sizes)) + 1;
  for (let i = 0; i < keep.length; i++) assert.equal(keep[i], cc.labels[i] === largest ? 1 : 0);
});

test('diagonals connect in 2D ([w, h, 1], 8-connectivity) and in 3D (26-connectivity)', async () => {
  const core = await sharedKernels();
  // 19 x 3 image: a diagonal staircase plus an isolated voxel.
  const w = 19;
  const img = new Uint8Array(w * 3);
  img[0] = img[w + 1] = img[2 * w + 2] = 1;
  img[2 * w + 18] = 1;
  const cc2 = labelComponents(core, img, [w, 3, 1]);
  assert.equal(cc2.count, 2);
  assert.deepEqual(cc2.sizes, [3, 1]);
  // Corner-touching voxels in 3D.
  const vol = new Uint8Array(2 * 2 * 2);
  vol[0] = 1;
  vol[7] = 1;
  assert.equal(labelComponents(core, vol, [2, 2, 2]).count, 1);
});

test('size-1 axes and empty masks', async () => {
  const core = await sharedKernels();
  const line = Uint8Array.from([1, 1, 0, 1, 0, 0, 1]);
  for (const shape of [
    [7, 1, 1],
    [1, 7, 1],
    [1, 1, 7],
  ] as Shape3[]) {
    const cc = labelComponents(core, line, shape);
    assert.deepEqual(Array.from(cc.labels), [1, 1, 0, 2, 0, 0, 3]);
    assert.deepEqual(Array.from(keepLargestComponent(core, line, shape)), [1, 1, 0, 0, 0, 0, 0]);
  }
  const empty = labelComponents(core, new Uint8Array(5), [5, 1, 1]);
  assert.equal(empty.count, 0);
  assert.deepEqual(empty.sizes, []);
  assert.deepEqual(Array.from(keepLargestComponent(core, new Uint8Array(5), [5, 1, 1])), [0, 0, 0, 0, 0]);
});

test('bad shapes throw KernelArgumentError', async () => {
  const core = await sharedKernels();
  assert.throws(() => labelComponents(core, new Uint8Array(5), [2, 2, 1]), KernelArgumentError);
  assert.throws(() => keepLargestComponent(core, new Uint8Array(4), [2, 2.5, 1]), KernelArgumentError);
});
