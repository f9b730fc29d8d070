// Unit tests: argument errors, identities and odd shapes (size-1 axes, 2D, lengths that are not
// multiples of the 4- and 16-lane SIMD groups, extreme factors) on crops of real data, checked
// against the plain scalar f64 implementation (bench/plain/resample.ts) within 1e-3 * range for
// order 3 and 1e-5 * range for orders 0/1; label maps checked for identical output.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as plain from '../../bench/plain/resample.js';
import { dataRange, firstMismatch, maxAbsDiff } from '../../test/support/compare.js';
import { goldens } from '../../test/support/goldens.js';
import { KernelArgumentError } from './kernel-errors.js';
import { loadKernelsForNode, sharedKernels } from './node-loader.js';
import {
  chooseSeparateZ,
  computeNewShape,
  resampleLabels,
  resampleVolume,
  type InterpOrder,
  type ResampleOptions,
} from './resample.js';
import type { Shape3 } from './shape.js';

const g = goldens<unknown>('resample');
const brain = g.npy('brain_down_in.npy'); // (z, y, x) = 20 x 28 x 24 crop of fsA
const kmeans = g.npy('kmeans_iso_in.npy'); // 7-class k-means labels, 26 x 22 x 10

/** A [nx, ny, nz] crop of a (z, y, x) golden array starting at voxel (x0, y0, z0). */
function crop<T extends Float32Array | Uint8Array>(
  a: { shape: number[]; data: unknown },
  s: Shape3,
  o: Shape3,
  ctor: new (n: number) => T,
): T {
  const [Z, Y, X] = a.shape;
  const src = a.data as ArrayLike<number>;
  const out = new ctor(s[0] * s[1] * s[2]);
  for (let z = 0; z < s[2]; z++)
    for (let y = 0; y < s[1]; y++)
      for (let x = 0; x < s[0]; x++)
        out[(z * s[1] + y) * s[0] + x] =
          src[(((o[2] + z) % Z) * Y + ((o[1] + y) % Y)) * X + ((o[0] + x) % X)];
  return out;
}

const isArgError = (code: string) => (e: unknown) => e instanceof KernelArgumentError && e.code === code;

test('resample rejects bad arguments', async () => {
  const core = await sharedKernels();
  const v = new Float32Array(24);
  const ok: ResampleOptions = { order: 1 };
  assert.throws(() => resampleVolume(core, v, [2, 3, 5], [4, 4, 4], ok), isArgError('kernel_shape'));
  assert.throws(() => resampleVolume(core, v, [2, 3, 4], [0, 4, 4], ok), isArgError('kernel_shape'));
  assert.throws(() => resampleVolume(core, v, [2, 3, 4], [2.5, 4, 4], ok), isArgError('kernel_shape'));
  assert.throws(
    () => resampleVolume(core, v, [2, 3, 4], [4, 4, 4], { order: 2 as InterpOrder }),
    isArgError('kernel_argument'),
  );
  assert.throws(
    () => resampleVolume(core, v, [2, 3, 4], [4, 4, 4], { order: 1, orderZ: 5 as InterpOrder }),
    isArgError('kernel_argument'),
  );
  assert.throws(
    () => resampleVolume(core, v, [2, 3, 4], [4, 4, 4], { order: 1, separateZAxis: 3 as 2 }),
    isArgError('kernel_argument'),
  );
  assert.throws(
    () => resampleLabels(core, v as unknown as Uint8Array, [2, 3, 4], [4, 4, 4], ok),
    isArgError('kernel_argument'),
  );
  assert.throws(() => computeNewShape([2, 3, 4], [1, 0, 1], [1, 1, 1]), isArgError('kernel_spacing'));
  assert.throws(() => chooseSeparateZ([1, 1, 1], [1, 1, NaN], 'auto'), isArgError('kernel_spacing'));
  assert.throws(() => chooseSeparateZ([1, 1, 1], [1, 1, 1], 'maybe' as 'on'), isArgError('kernel_argument'));
  const small = await loadKernelsForNode({ maxMemoryBytes: 1 << 20 });
  assert.throws(
    () => resampleVolume(small, new Float32Array(64 ** 3), [64, 64, 64], [90, 90, 90], ok),
    isArgError('kernel_memory'),
  );
});

test('resample new shapes: rounding half to even, at least 1, 2D keeps its single slice', () => {
  assert.deepEqual(computeNewShape([5, 7, 3], [0.5, 0.5, 0.5], [1, 1, 1]), [2, 4, 2]);
  assert.deepEqual(computeNewShape([3, 3, 3], [1, 1, 1], [100, 100, 100]), [1, 1, 1]);
  assert.deepEqual(computeNewShape([512, 480, 1], [0.1, 0.1, 1], [10, 10, 1]), [5, 5, 1]);
  assert.equal(chooseSeparateZ([0.8, 0.8, 3.5], [0.8, 0.8, 0.8], 'off'), null);
  assert.equal(chooseSeparateZ([3.5, 0.8, 0.8], [1, 1, 1], 'auto'), 0);
  assert.equal(chooseSeparateZ([3.5, 3.5, 0.8], [1, 1, 1], 'auto'), null); // two axes share the max
});

test('resample identity and constant volumes', async () => {
  const core = await sharedKernels();
  const v = crop(brain, [9, 6, 5], [3, 4, 2], Float32Array);
  const same = resampleVolume(core, v, [9, 6, 5], [9, 6, 5], { order: 3 });
  assert.notEqual(same, v);
  assert.equal(firstMismatch(same, v), -1);
  const flat = new Float32Array(30).fill(42.5);
  for (const order of [0, 1, 3] as const) {
    const out = resampleVolume(core, flat, [5, 3, 2], [11, 1, 7], { order });
    assert.ok(
      out.every((x) => x === 42.5),
      `order ${order}`,
    );
  }
});

const oddShapes: [Shape3, Shape3][] = [
  [
    [5, 7, 3],
    [13, 2, 9],
  ],
  [
    [1, 9, 6],
    [4, 9, 1],
  ],
  [
    [17, 1, 1],
    [3, 1, 1],
  ],
  [
    [2, 3, 2],
    [2, 7, 5],
  ], // y and z passes over 2 adjacent lines
  [
    [3, 5, 2],
    [3, 11, 2],
  ], // 3 adjacent lines
  [
    [19, 21, 3],
    [37, 5, 3],
  ], // 19 lines: a 16-line group plus an overlapping tail
  [
    [23, 18, 1],
    [50, 9, 1],
  ], // 2D [w, h, 1]
  [
    [3, 4, 3],
    [17, 2, 20],
  ], // extreme factors
];

for (const [shape, newShape] of oddShapes) {
  for (const order of [0, 1, 3] as const) {
    for (const axis of [null, 0, 2] as const) {
      const opts: ResampleOptions = { order, orderZ: order === 3 ? 1 : 3, separateZAxis: axis };
      test(`resample [${shape.join(', ')}] -> [${newShape.join(', ')}] order ${order} separate ${axis}`, async () => {
        const core = await sharedKernels();
        const v = crop(brain, shape, [1, 2, 3], Float32Array);
        const out = resampleVolume(core, v, shape, newShape, opts);
        const ref = plain.resampleVolume(v, shape, newShape, opts);
        const tol = (order === 3 || opts.orderZ === 3 ? 1e-3 : 1e-5) * dataRange(v);
        assert.ok(maxAbsDiff(out, ref) <= tol, `error ${maxAbsDiff(out, ref)} > ${tol}`);
        const labels = crop(kmeans, shape, [4, 3, 1], Uint8Array);
        // One-hot values exactly 0.5 in exact arithmetic (frequent on these tiny symmetric crops) fall
        // either way with rounding: the kernel settles order-1 ties as scipy does, the plain f64 code
        // sums in another order, and order-3 ties are decided in f32. Order 0 must agree everywhere.
        const got = resampleLabels(core, labels, shape, newShape, opts);
        const want = plain.resampleLabels(labels, shape, newShape, opts);
        const differ = got.reduce((n, x, i) => n + (x === want[i] ? 0 : 1), 0);
        const allowed =
          order === 0 && opts.orderZ === 0 ? 0 : order === 3 || opts.orderZ === 3 ? got.length * 0.03 : 2;
        assert.ok(differ <= allowed, `${differ} of ${got.length} labels differ`);
      });
    }
  }
}

test('resample labels keep their type and values (large and negative labels)', async () => {
  const core = await sharedKernels();
  const base = crop(kmeans, [11, 9, 6], [2, 5, 1], Uint8Array);
  const u16 = Uint16Array.from(base, (x) => (x === 0 ? 0 : 60000 + x));
  const i16 = Int16Array.from(base, (x) => x - 3);
  for (const labels of [u16, i16]) {
    for (const order of [0, 1, 3] as const) {
      const out = resampleLabels(core, labels, [11, 9, 6], [7, 16, 9], { order });
      assert.equal(out.constructor, labels.constructor);
      const allowed = new Set<number>(labels);
      allowed.add(0); // voxels no label's mask reaches 0.5 keep nnU-Net's zero fill
      assert.ok(out.every((x) => allowed.has(x)));
      assert.equal(firstMismatch(out, plain.resampleLabels(labels, [11, 9, 6], [7, 16, 9], { order })), -1);
    }
  }
});
