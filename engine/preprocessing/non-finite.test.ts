import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImageVolume, VoxelArray } from '../io/index.js';
import { nonFiniteWarnings, zeroNonFinite } from './non-finite.js';

const volume = (data: VoxelArray): ImageVolume<VoxelArray> => ({
  shape: [data.length, 1, 1],
  spacing: [1, 1, 1],
  affine: [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ],
  data,
  format: 'nifti1',
  datatype: 'float32',
});

describe('zeroNonFinite', () => {
  it('writes 0 over NaN and both infinities, in place, and counts them', () => {
    const data = Float32Array.of(1, NaN, -2, Infinity, 0, -Infinity);
    const count = zeroNonFinite(volume(data));
    assert.equal(count, 3);
    assert.deepEqual(Array.from(data), [1, 0, -2, 0, 0, 0]);
    assert.deepEqual(nonFiniteWarnings(count, data.length), [
      '3 of 6 voxels were NaN or infinite and were read as 0 (background)',
    ]);
  });
  it('leaves finite float data and integer types as they are', () => {
    for (const data of [Float32Array.of(1, 2, 3e38), Uint8Array.of(0, 255), Int16Array.of(-5, 7)]) {
      const before = Array.from(data);
      assert.equal(zeroNonFinite(volume(data)), 0);
      assert.deepEqual(Array.from(data), before);
    }
    assert.deepEqual(nonFiniteWarnings(0, 10), []);
    assert.match(nonFiniteWarnings(4, 4)[0], /the label map is empty/);
  });
});
