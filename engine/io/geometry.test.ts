// Crop / resample geometry and orientation codes. Tolerance 1e-9 (pure float64 arithmetic).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../test/support/goldens.js';
import { cropGeometry, orientationCodes, readImage, resampleGeometry } from './index.js';
import { assertCode, assertMatrixClose } from './test-helpers.js';

const qonly = readImage(new Uint8Array(readFileSync(`${REPO_ROOT}test/fixtures/nifti/qform_only.nii`)));
const world = (a: number[][], p: number[]): number[] =>
  [0, 1, 2].map((r) => a[r][0] * p[0] + a[r][1] * p[1] + a[r][2] * p[2] + a[r][3]);

describe('cropGeometry', () => {
  it('voxel (0,0,0) of the crop is voxel `start` of the source', () => {
    const g = cropGeometry(qonly, { start: [2, 1, 1], end: [7, 4, 3] });
    assert.deepEqual(g.shape, [5, 3, 2]);
    assert.deepEqual(g.spacing, qonly.spacing);
    assertMatrixClose([world(g.affine, [0, 0, 0])], [world(qonly.affine, [2, 1, 1])], 1e-9, 'origin');
    assertMatrixClose([world(g.affine, [4, 2, 1])], [world(qonly.affine, [6, 3, 2])], 1e-9, 'corner');
  });
  it('refuses empty, reversed, out-of-range and non-integer boxes', () => {
    for (const box of [
      { start: [0, 0, 0], end: [0, 1, 1] },
      { start: [3, 0, 0], end: [2, 1, 1] },
      { start: [-1, 0, 0], end: [2, 1, 1] },
      { start: [0, 0, 0], end: [8, 1, 1] },
      { start: [0.5, 0, 0], end: [2, 1, 1] },
      { start: [0, 0], end: [2, 1, 1] },
    ]) {
      assertCode(() => cropGeometry(qonly, box as never), 'bad_crop_box');
    }
  });
});

describe('resampleGeometry (grid-centred)', () => {
  it('output voxel o sits at input coordinate (o + 0.5)·in/out − 0.5', () => {
    const out: [number, number, number] = [3, 10, 1];
    const g = resampleGeometry(qonly, out);
    const s = qonly.shape.map((n, i) => n / out[i]);
    for (const o of [
      [0, 0, 0],
      [2, 9, 0],
      [1, 4, 0],
    ]) {
      const inCoord = o.map((v, i) => (v + 0.5) * s[i] - 0.5);
      assertMatrixClose([world(g.affine, o)], [world(qonly.affine, inCoord)], 1e-9, `voxel ${o}`);
    }
    g.spacing.forEach((sp, i) => assert.ok(Math.abs(sp - qonly.spacing[i] * s[i]) < 1e-12));
    assertMatrixClose(resampleGeometry(qonly, qonly.shape).affine, qonly.affine, 0, 'identity resample');
  });
  it('refuses bad shapes', () => {
    assertCode(() => resampleGeometry(qonly, [0, 1, 1]), 'bad_shape');
    assertCode(() => resampleGeometry(qonly, [1.5, 1, 1]), 'bad_shape');
  });
});

describe('orientationCodes (nibabel aff2axcodes)', () => {
  it('axis permutations and flips', () => {
    const perm = (cols: number[][]): number[][] =>
      [0, 1, 2, 3].map((r) => [...cols.map((c) => c[r] ?? 0), r === 3 ? 1 : 0]);
    assert.equal(
      orientationCodes(
        perm([
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ]),
      ),
      'RAS',
    );
    assert.equal(
      orientationCodes(
        perm([
          [-1, 0, 0],
          [0, 0, -1],
          [0, 1, 0],
        ]),
      ),
      'LIA',
    );
    assert.equal(
      orientationCodes(
        perm([
          [0, 2, 0],
          [0, 0, -3],
          [-0.5, 0, 0],
        ]),
      ),
      'AIL',
    );
  });
  it('oblique axes pick the closest world axis, each used once', () => {
    const c = Math.cos(Math.PI / 5);
    const s = Math.sin(Math.PI / 5);
    assert.equal(
      orientationCodes([
        [c, -s, 0, 0],
        [s, c, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ]),
      'RAS',
    );
    // 45° exactly: ties go to the first axis, then that axis is removed
    const h = Math.SQRT1_2;
    assert.equal(
      orientationCodes([
        [h, -h, 0, 0],
        [h, h, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ]),
      'RAS',
    );
    assert.equal(
      orientationCodes([
        [1, 0, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ]),
      'R?S',
    );
  });
  it('rejects non-finite or malformed affines', () => {
    assertCode(
      () =>
        orientationCodes([
          [NaN, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ]),
      'bad_affine',
    );
    assertCode(() => orientationCodes([[1, 0]]), 'bad_affine');
  });
});
