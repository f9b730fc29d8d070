/**
 * @module
 * Plain TypeScript distance transform (benchmark baseline for wasm/src/edt.ts): the same separable
 * Felzenszwalb–Huttenlocher algorithm, in f64, with no SIMD, blocking or skipping.
 */
import type { Shape3, Spacing3 } from '../../wasm/src/shape.js';

/** Lower envelope of parabolas along one line: f (squared mm) in, squared mm out, in place. */
function line(
  f: Float64Array,
  idx: number[],
  s: number,
  v: Int32Array,
  z: Float64Array,
  g: Float64Array,
): void {
  const n = idx.length;
  for (let i = 0; i < n; i++) g[i] = f[idx[i]];
  let k = -1;
  for (let q = 0; q < n; q++) {
    if (g[q] === Infinity) continue;
    let x = 0;
    while (k >= 0) {
      const p = v[k];
      x = (g[q] + (q * s) ** 2 - g[p] - (p * s) ** 2) / (2 * s * (q - p));
      if (x <= z[k]) k--;
      else break;
    }
    k++;
    v[k] = q;
    z[k] = k === 0 ? -Infinity : x;
    z[k + 1] = Infinity;
  }
  if (k < 0) return;
  let j = 0;
  for (let q = 0; q < n; q++) {
    while (z[j + 1] < q * s) j++;
    f[idx[q]] = ((q - v[j]) * s) ** 2 + g[v[j]];
  }
}

/** Distance in mm from every voxel to the nearest voxel where `feature` is true. */
function edt(feature: (i: number) => boolean, shape: Shape3, spacing: Spacing3): Float32Array {
  const [nx, ny, nz] = shape;
  const f = new Float64Array(nx * ny * nz);
  for (let i = 0; i < f.length; i++) f[i] = feature(i) ? 0 : Infinity;
  const len = Math.max(nx, ny, nz);
  const v = new Int32Array(len);
  const z = new Float64Array(len + 1);
  const g = new Float64Array(len);
  const axes: [number, number, number, number, number][] = [
    // [length, stride, count of the other two axes, their strides]
    [nx, 1, ny * nz, nx, 0],
    [ny, nx, nx * nz, 0, 0],
    [nz, nx * ny, nx * ny, 0, 0],
  ];
  axes.forEach(([n, stride], axis) => {
    for (let a = 0; a < nx * ny * nz; a++) {
      // A line starts at every voxel whose coordinate along this axis is 0.
      const coord = axis === 0 ? a % nx : axis === 1 ? Math.floor(a / nx) % ny : Math.floor(a / (nx * ny));
      if (coord !== 0) continue;
      const idx: number[] = [];
      for (let i = 0; i < n; i++) idx.push(a + i * stride);
      line(f, idx, spacing[axis], v, z, g);
    }
  });
  return Float32Array.from(f, Math.sqrt);
}

/** Plain version of wasm `distanceTransform`. */
export function distanceTransform(mask: Uint8Array, shape: Shape3, spacing: Spacing3): Float32Array {
  return edt((i) => mask[i] === 0, shape, spacing);
}

/** Plain version of wasm `signedDistance`. */
export function signedDistance(mask: Uint8Array, shape: Shape3, spacing: Spacing3): Float32Array {
  const inside = edt((i) => mask[i] === 0, shape, spacing);
  const outside = edt((i) => mask[i] !== 0, shape, spacing);
  return inside.map((d, i) => (mask[i] !== 0 ? -d : outside[i]));
}

/** Distance in mm to the nearest non-zero voxel of `mask` (for the metrics baseline). */
export function distanceToNonzero(mask: Uint8Array, shape: Shape3, spacing: Spacing3): Float32Array {
  return edt((i) => mask[i] !== 0, shape, spacing);
}
