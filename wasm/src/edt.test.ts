import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goldens } from '../../test/support/goldens.js';
import { niftiShape } from '../../test/support/npy.js';
import { distanceTransform, signedDistance } from './edt.js';
import { KernelArgumentError } from './kernel-errors.js';
import { sharedKernels } from './node-loader.js';
import type { Shape3 } from './shape.js';

// A real white-matter crop from the parity goldens.
function brainCrop(): { mask: Uint8Array; shape: Shape3 } {
  const m = goldens<unknown>('edt').npy('brain_mask.npy');
  return { mask: m.data as Uint8Array, shape: niftiShape(m.shape) };
}

test('signed distance is -edt inside and the edt of the complement outside', async () => {
  const core = await sharedKernels();
  const { mask, shape } = brainCrop();
  const spacing = [0.9, 1.7, 3.1] as const;
  const inside = distanceTransform(core, mask, shape, spacing);
  const outside = distanceTransform(
    core,
    mask.map((v) => (v ? 0 : 1)),
    shape,
    spacing,
  );
  const sdf = signedDistance(core, mask, shape, spacing);
  for (let i = 0; i < mask.length; i++) {
    assert.equal(sdf[i], mask[i] ? -inside[i] : outside[i], `voxel ${i}`);
    assert.notEqual(sdf[i], 0);
  }
});

test('distances scale with the spacing and any non-zero value is foreground', async () => {
  const core = await sharedKernels();
  const { mask, shape } = brainCrop();
  const d1 = distanceTransform(core, mask, shape, [1, 1.5, 2]);
  const d2 = distanceTransform(
    core,
    mask.map((v) => v * 200),
    shape,
    [2.5, 3.75, 5],
  );
  for (let i = 0; i < d1.length; i++) assert.ok(Math.abs(d2[i] - 2.5 * d1[i]) <= 1e-4 * (1 + d2[i]));
});

test('a [w, h, 1] image gets the 2D transform of its slice', async () => {
  const core = await sharedKernels();
  const { mask, shape } = brainCrop();
  const [nx, ny] = shape;
  const slice = mask.subarray(5 * nx * ny, 6 * nx * ny);
  const d2 = distanceTransform(core, slice, [nx, ny, 1], [1, 1, 1]);
  // Stacking the slice along z changes nothing: every z line has the same value.
  const stacked = new Uint8Array(3 * nx * ny);
  for (let z = 0; z < 3; z++) stacked.set(slice, z * nx * ny);
  const d3 = distanceTransform(core, stacked, [nx, ny, 3], [1, 1, 1]);
  assert.deepEqual(d3.subarray(nx * ny, 2 * nx * ny), d2);
});

test('a volume with no feature voxel is Infinity (documented choice)', async () => {
  const core = await sharedKernels();
  const shape: Shape3 = [7, 1, 3];
  assert.ok(
    distanceTransform(core, new Uint8Array(21).fill(1), shape, [1, 1, 1]).every((v) => v === Infinity),
  );
  assert.ok(signedDistance(core, new Uint8Array(21).fill(1), shape, [1, 1, 1]).every((v) => v === -Infinity));
  assert.ok(signedDistance(core, new Uint8Array(21), shape, [1, 1, 1]).every((v) => v === Infinity));
  assert.ok(distanceTransform(core, new Uint8Array(21), shape, [1, 1, 1]).every((v) => v === 0));
});

test('bad arguments throw KernelArgumentError', async () => {
  const core = await sharedKernels();
  const mask = new Uint8Array(24);
  const bad = (f: () => unknown, code: string) =>
    assert.throws(f, (e: unknown) => e instanceof KernelArgumentError && e.code === code);
  bad(() => distanceTransform(core, mask, [2, 3, 5], [1, 1, 1]), 'kernel_shape');
  bad(() => signedDistance(core, mask, [2, 3, 4], [1, 0, 1]), 'kernel_spacing');
  bad(() => distanceTransform(core, mask, [2, 3, 4], [1, NaN, 1]), 'kernel_spacing');
  bad(() => distanceTransform(core, mask, [0, 3, 4], [1, 1, 1]), 'kernel_shape');
});
