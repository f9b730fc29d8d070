import assert from 'node:assert/strict';
import { test } from 'node:test';
import { invertPermutation, modelAxes, permute3, permuteTuple } from './axes.js';

test('permute3 reverses axes as numpy transpose does, and its inverse restores the volume', () => {
  const shape: [number, number, number] = [4, 3, 2];
  const data = Float32Array.from({ length: 24 }, (_, i) => i);
  const perm = [2, 1, 0];
  const t = permute3(data, shape, perm);
  // t has shape [2, 3, 4] fastest-first: t[z + 2 * (y + 3 * x)] = data[x + 4 * (y + 3 * z)].
  for (let x = 0; x < 4; x++)
    for (let y = 0; y < 3; y++)
      for (let z = 0; z < 2; z++) assert.equal(t[z + 2 * (y + 3 * x)], data[x + 4 * (y + 3 * z)]);
  assert.deepEqual(permute3(t, permuteTuple(shape, perm), invertPermutation(perm)), data);
});

test('modelAxes: volumes are sliced along the first array axis, 2D images stay one slice', () => {
  assert.deepEqual(modelAxes([0, 1, 2], [256, 256, 256]), [2, 1, 0]);
  assert.deepEqual(modelAxes([2, 0, 1], [10, 20, 30]), [1, 0, 2]);
  assert.deepEqual(modelAxes([0, 1, 2], [181, 217, 1]), [0, 1, 2]);
});

test('modelAxes for an nnU-Net-convention model: sliced along z, as nnU-Net 2D slices', () => {
  // nnU-Net reads A[z, y, x]; with an identity transpose its first axis, z, is the slicing axis, which in
  // the fastest-first image layout [nx, ny, nz] is already the slowest axis.
  assert.deepEqual(modelAxes([0, 1, 2], [256, 256, 128], 'nnunet'), [0, 1, 2]);
  assert.deepEqual(modelAxes([0, 1, 2], [256, 256, 128], 'nibabel'), [2, 1, 0]);
  // transpose_forward [1, 0, 2] on A[z, y, x] gives (y, z, x): slices along y, then z, then x fastest.
  assert.deepEqual(modelAxes([1, 0, 2], [10, 20, 30], 'nnunet'), [0, 2, 1]);
});
