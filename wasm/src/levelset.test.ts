import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goldens } from '../../test/support/goldens.js';
import { niftiShape } from '../../test/support/npy.js';
import { KernelArgumentError } from './kernel-errors.js';
import { curvatureFlow, curvatureFlowMaxDt, smoothMask } from './levelset.js';
import { sharedKernels } from './node-loader.js';
import type { Shape3, Spacing3 } from './shape.js';

/** phi(x, y, z) sampled in mm on a grid. */
function sample(
  shape: Shape3,
  spacing: Spacing3,
  f: (x: number, y: number, z: number) => number,
): Float32Array {
  const [nx, ny, nz] = shape;
  const out = new Float32Array(nx * ny * nz);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++)
        out[(z * ny + y) * nx + x] = f(x * spacing[0], y * spacing[1], z * spacing[2]);
  return out;
}

/** Zero crossing of phi along the +x row through voxel (cx, cy, cz), in mm from cx (linear interpolation). */
function crossing(phi: Float32Array, shape: Shape3, spacing: Spacing3, c: [number, number, number]): number {
  const [nx, ny] = shape;
  const row = (c[2] * ny + c[1]) * nx;
  for (let x = c[0]; x + 1 < nx; x++) {
    const a = phi[row + x];
    const b = phi[row + x + 1];
    if (a < 0 && b >= 0) return (x - c[0] + a / (a - b)) * spacing[0];
  }
  return NaN;
}

test('an axis-aligned plane does not move; a tilted one barely moves away from the borders', async () => {
  const core = await sharedKernels();
  const shape: Shape3 = [35, 27, 15];
  const spacing: Spacing3 = [0.9, 1.3, 2];
  const plane = sample(shape, spacing, (x) => x - 9.5);
  assert.deepEqual(curvatureFlow(core, plane, shape, spacing, { iterations: 30 }), plane);
  const tilted = sample(shape, spacing, (x, y, z) => (x + 0.5 * y + 0.3 * z - 28) / Math.hypot(1, 0.5, 0.3));
  const out = curvatureFlow(core, tilted, shape, spacing, { iterations: 30 });
  // Edge replication makes level sets meet the borders at right angles, which bends the tilted
  // plane there; the middle third of the volume stays put.
  const [nx, ny] = shape;
  for (let z = 5; z < 10; z++)
    for (let y = 9; y < 18; y++)
      for (let x = 12; x < 24; x++) {
        const i = (z * ny + y) * nx + x;
        assert.ok(Math.abs(out[i] - tilted[i]) < 1e-4, `voxel ${x},${y},${z}`);
      }
});

test('a sphere shrinks as r^2 = r0^2 - 4t (speed 2/r) and a [w, h, 1] circle as r^2 = r0^2 - 2t', async () => {
  const core = await sharedKernels();
  for (const [shape, spacing, ndim] of [
    [[41, 41, 41], [1, 1, 1], 3],
    [[61, 61, 1], [0.5, 0.5, 3], 2],
  ] as [Shape3, Spacing3, number][]) {
    const r0 = 10;
    const c = shape.map((n, d) => ((n - 1) / 2) * spacing[d]);
    const phi = sample(
      shape,
      spacing,
      (x, y, z) => Math.hypot(x - c[0], y - c[1], ndim === 3 ? z - c[2] : 0) - r0,
    );
    const iterations = 60;
    const dt = curvatureFlowMaxDt(shape, spacing) / 2;
    const out = curvatureFlow(core, phi, shape, spacing, { iterations, band: 4 });
    const r = crossing(out, shape, spacing, [(shape[0] - 1) / 2, (shape[1] - 1) / 2, (shape[2] - 1) / 2]);
    const expected = Math.sqrt(r0 * r0 - 2 * (ndim - 1) * iterations * dt);
    assert.ok(Math.abs(r - expected) < 0.02 * (r0 - expected), `${ndim}D radius ${r}, expected ${expected}`);
  }
});

test('smoothing a jagged real white-matter mask leaves fewer surface voxels; 0 iterations is the identity', async () => {
  const core = await sharedKernels();
  const m = goldens<unknown>('levelset').npy('wm_iso_mask.npy');
  const shape = niftiShape(m.shape);
  const mask = m.data as Uint8Array;
  const surface = (v: Uint8Array): number => {
    const [nx, ny, nz] = shape;
    let s = 0;
    for (let z = 0; z < nz; z++)
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++) {
          const i = (z * ny + y) * nx + x;
          if (!v[i]) continue;
          const nb = [x > 0 ? i - 1 : i, x < nx - 1 ? i + 1 : i, y > 0 ? i - nx : i, y < ny - 1 ? i + nx : i];
          nb.push(z > 0 ? i - nx * ny : i, z < nz - 1 ? i + nx * ny : i);
          if (nb.some((j) => !v[j])) s++;
        }
    return s;
  };
  const smooth = smoothMask(core, mask, shape, [1, 1, 1], { iterations: 20 });
  assert.ok(surface(smooth) < 0.9 * surface(mask), `surface ${surface(mask)} -> ${surface(smooth)}`);
  assert.deepEqual(smoothMask(core, mask, shape, [1, 1, 1], { iterations: 0 }), mask);
  const [nx, ny] = shape;
  const slice = mask.subarray(10 * nx * ny, 11 * nx * ny);
  assert.deepEqual(smoothMask(core, slice, [nx, ny, 1], [0.5, 0.5, 4], { iterations: 0 }), slice);
  assert.ok(surface(smoothMask(core, slice, [nx, ny, 1], [0.5, 0.5, 4], { iterations: 20 })) > 0);
});

test('row ends and SIMD lanes agree: an x/y-transposed volume evolves transposed', async () => {
  const core = await sharedKernels();
  const phi = goldens<unknown>('levelset').npy('wm_odd_band_phi.npy');
  const [nx, ny, nz] = niftiShape(phi.shape);
  const a = phi.data as Float32Array;
  const t = new Float32Array(a.length);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) t[(z * nx + x) * ny + y] = a[(z * ny + y) * nx + x];
  const out = curvatureFlow(core, a, [nx, ny, nz], [1, 1.3, 0.9], { iterations: 5 });
  const outT = curvatureFlow(core, t, [ny, nx, nz], [1.3, 1, 0.9], { iterations: 5 });
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++)
        assert.ok(Math.abs(out[(z * ny + y) * nx + x] - outT[(z * nx + x) * ny + y]) < 1e-5);
});

test('size-1 axes: a 1D line and a single voxel do not evolve', async () => {
  const core = await sharedKernels();
  const line = Float32Array.from({ length: 11 }, (_, i) => (i - 5.5) ** 2 - 4);
  assert.deepEqual(curvatureFlow(core, line, [11, 1, 1], [1, 1, 1], { iterations: 5, band: 100 }), line);
  assert.deepEqual(
    curvatureFlow(core, Float32Array.of(-1), [1, 1, 1], [1, 1, 1], { iterations: 3 }),
    Float32Array.of(-1),
  );
});

test('bad arguments throw KernelArgumentError', async () => {
  const core = await sharedKernels();
  const phi = new Float32Array(24);
  const shape: Shape3 = [4, 3, 2];
  assert.throws(() => curvatureFlow(core, phi, [4, 3, 3], [1, 1, 1], { iterations: 1 }), KernelArgumentError);
  assert.throws(() => curvatureFlow(core, phi, shape, [1, 0, 1], { iterations: 1 }), KernelArgumentError);
  assert.throws(() => curvatureFlow(core, phi, shape, [1, -2, 1], { iterations: 1 }), KernelArgumentError);
  assert.throws(() => curvatureFlow(core, phi, shape, [1, 1, 1], { iterations: -1 }), KernelArgumentError);
  assert.throws(() => curvatureFlow(core, phi, shape, [1, 1, 1], { iterations: 1.5 }), KernelArgumentError);
  assert.throws(
    () => curvatureFlow(core, phi, shape, [1, 1, 1], { iterations: 1, band: 0 }),
    KernelArgumentError,
  );
  assert.throws(
    () => curvatureFlow(core, phi, shape, [1, 1, 1], { iterations: 1, dt: 0.2 }),
    KernelArgumentError,
  );
  assert.throws(
    () => smoothMask(core, new Uint8Array(23), shape, [1, 1, 1], { iterations: 1 }),
    KernelArgumentError,
  );
});
