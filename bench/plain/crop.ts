/**
 * @module
 * Plain-TypeScript crop to non-zero (benchmark baseline for wasm/src/crop.ts): non-zero mask, hole
 * filling by a 6-connected flood fill of the background from the volume's faces, bounding box.
 */
import type { Shape3 } from '../../wasm/src/shape.js';

/** The hole-filled non-zero mask (0/1) of one or more channels. */
export function nonzeroMask(channels: readonly Float32Array[], shape: Shape3): Uint8Array {
  const [nx, ny, nz] = shape;
  const n = nx * ny * nz;
  const mask = new Uint8Array(n);
  for (const c of channels) for (let i = 0; i < n; i++) if (c[i] !== 0) mask[i] = 1;
  const queue = new Int32Array(n);
  let tail = 0;
  const seed = (v: number) => {
    if (mask[v] === 0) {
      mask[v] = 2;
      queue[tail++] = v;
    }
  };
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++)
        if (z === 0 || z === nz - 1 || y === 0 || y === ny - 1 || x === 0 || x === nx - 1)
          seed((z * ny + y) * nx + x);
  for (let head = 0; head < tail; head++) {
    const v = queue[head];
    const x = v % nx;
    const y = Math.floor(v / nx) % ny;
    const z = Math.floor(v / (nx * ny));
    if (x > 0) seed(v - 1);
    if (x < nx - 1) seed(v + 1);
    if (y > 0) seed(v - nx);
    if (y < ny - 1) seed(v + nx);
    if (z > 0) seed(v - nx * ny);
    if (z < nz - 1) seed(v + nx * ny);
  }
  for (let i = 0; i < n; i++) mask[i] = mask[i] === 2 ? 0 : 1;
  return mask;
}

/** Half-open bounding box `[x0, x1, y0, y1, z0, z1]` of the non-zero voxels, or null if none. */
export function boundingBox(mask: Uint8Array, shape: Shape3): number[] | null {
  const [nx, ny, nz] = shape;
  const b = [nx, -1, ny, -1, nz, -1];
  for (let z = 0, i = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++, i++)
        if (mask[i]) {
          if (x < b[0]) b[0] = x;
          if (x > b[1]) b[1] = x;
          if (y < b[2]) b[2] = y;
          if (y > b[3]) b[3] = y;
          if (z < b[4]) b[4] = z;
          if (z > b[5]) b[5] = z;
        }
  return b[1] < 0 ? null : [b[0], b[1] + 1, b[2], b[3] + 1, b[4], b[5] + 1];
}
