import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flipPlanes, mirrorCombinations } from './mirroring.js';

test('mirrorCombinations: identity, each axis, both (4 passes for 2D)', () => {
  assert.deepEqual(mirrorCombinations([0, 1]), [[], [0], [1], [0, 1]]);
  assert.deepEqual(mirrorCombinations([]), [[]]);
});

test('flipPlanes flips rows and/or columns of every plane and is its own inverse', () => {
  const x = Float32Array.from({ length: 12 }, (_, i) => i); // 2 planes of 2 x 3
  const PLANE = { rows: 2, cols: 3 };
  assert.deepEqual([...flipPlanes(x, 2, PLANE, [1])], [2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9]);
  assert.deepEqual([...flipPlanes(x, 2, PLANE, [0])], [3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8]);
  for (const axes of [[0], [1], [0, 1]])
    assert.deepEqual(flipPlanes(flipPlanes(x, 2, PLANE, axes), 2, PLANE, axes), x);
});
