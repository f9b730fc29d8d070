/**
 * @module
 * Plain TypeScript curvature flow (benchmark baseline for wasm/src/levelset.ts): the same explicit
 * narrow-band scheme, one voxel at a time with clamped neighbour indices, f32 storage, no SIMD.
 */
import type { Shape3, Spacing3 } from '../../wasm/src/shape.js';
import { signedDistance } from './edt.js';

/** Evolves `phi` by mean-curvature motion in its narrow band (defaults as the WASM kernel). */
export function curvatureFlow(
  phi: Float32Array,
  shape: Shape3,
  spacing: Spacing3,
  options: { iterations: number; band?: number; dt?: number },
): Float32Array {
  const [nx, ny, nz] = shape;
  const [sx, sy, sz] = spacing;
  const inv = shape.reduce((s, n, d) => (n > 1 ? s + 1 / spacing[d] ** 2 : s), 0);
  if (inv === 0) return phi.slice();
  const dt = options.dt ?? 1 / (4 * inv);
  const band = Math.fround(options.band ?? 3 * Math.min(...spacing));
  let src = phi.slice();
  let dst = new Float32Array(phi.length);
  const at = (x: number, y: number, z: number): number =>
    src[
      (Math.min(Math.max(z, 0), nz - 1) * ny + Math.min(Math.max(y, 0), ny - 1)) * nx +
        Math.min(Math.max(x, 0), nx - 1)
    ];
  for (let k = 0; k < options.iterations; k++) {
    for (let z = 0; z < nz; z++)
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++) {
          const i = (z * ny + y) * nx + x;
          const f = src[i];
          if (!(Math.abs(f) < band)) {
            dst[i] = f;
            continue;
          }
          const fx = (at(x + 1, y, z) - at(x - 1, y, z)) / (2 * sx);
          const fy = (at(x, y + 1, z) - at(x, y - 1, z)) / (2 * sy);
          const fz = (at(x, y, z + 1) - at(x, y, z - 1)) / (2 * sz);
          const fxx = (at(x + 1, y, z) + at(x - 1, y, z) - 2 * f) / (sx * sx);
          const fyy = (at(x, y + 1, z) + at(x, y - 1, z) - 2 * f) / (sy * sy);
          const fzz = (at(x, y, z + 1) + at(x, y, z - 1) - 2 * f) / (sz * sz);
          const fxy =
            (at(x + 1, y + 1, z) - at(x - 1, y + 1, z) - at(x + 1, y - 1, z) + at(x - 1, y - 1, z)) /
            (4 * sx * sy);
          const fxz =
            (at(x + 1, y, z + 1) - at(x - 1, y, z + 1) - at(x + 1, y, z - 1) + at(x - 1, y, z - 1)) /
            (4 * sx * sz);
          const fyz =
            (at(x, y + 1, z + 1) - at(x, y - 1, z + 1) - at(x, y + 1, z - 1) + at(x, y - 1, z - 1)) /
            (4 * sy * sz);
          const num =
            (fyy + fzz) * fx * fx +
            (fxx + fzz) * fy * fy +
            (fxx + fyy) * fz * fz -
            2 * (fx * fy * fxy + fx * fz * fxz + fy * fz * fyz);
          dst[i] = f + (dt * num) / (fx * fx + fy * fy + fz * fz + 1e-12);
        }
    [src, dst] = [dst, src];
  }
  return src;
}

/** Smooths a binary mask: signed distance -> curvature flow -> `phi < 0`. */
export function smoothMask(
  mask: Uint8Array,
  shape: Shape3,
  spacing: Spacing3,
  options: { iterations: number },
): Uint8Array {
  if (options.iterations === 0) return mask.map((v) => (v ? 1 : 0));
  const phi = curvatureFlow(signedDistance(mask, shape, spacing), shape, spacing, options);
  return Uint8Array.from(phi, (v) => (v < 0 ? 1 : 0));
}
