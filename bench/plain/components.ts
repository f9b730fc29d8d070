/**
 * @module
 * Plain TypeScript connected components (benchmark baseline for wasm/src/components.ts): a breadth-first
 * flood fill started from each unlabelled voxel in raster order, which numbers components as scipy does.
 */
import type { Components } from '../../wasm/src/components.js';
import type { Shape3 } from '../../wasm/src/shape.js';

/** Plain version of wasm `labelComponents` (full connectivity). */
export function labelComponents(mask: Uint8Array, shape: Shape3): Components {
  const [nx, ny, nz] = shape;
  const labels = new Int32Array(nx * ny * nz);
  const queue = new Int32Array(labels.length);
  const sizes: number[] = [];
  let count = 0;
  for (let start = 0; start < labels.length; start++) {
    if (mask[start] === 0 || labels[start] !== 0) continue;
    count++;
    labels[start] = count;
    let head = 0;
    let tail = 0;
    queue[tail++] = start;
    while (head < tail) {
      const v = queue[head++];
      const x = v % nx;
      const y = Math.floor(v / nx) % ny;
      const z = Math.floor(v / (nx * ny));
      for (let dz = -1; dz <= 1; dz++) {
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const X = x + dx;
            const Y = y + dy;
            const Z = z + dz;
            if (X < 0 || Y < 0 || Z < 0 || X >= nx || Y >= ny || Z >= nz) continue;
            const u = (Z * ny + Y) * nx + X;
            if (mask[u] === 0 || labels[u] !== 0) continue;
            labels[u] = count;
            queue[tail++] = u;
          }
        }
      }
    }
    sizes.push(tail);
  }
  return { labels, count, sizes };
}

/** Plain version of wasm `keepLargestComponent` (every component tied for largest is kept). */
export function keepLargestComponent(mask: Uint8Array, shape: Shape3): Uint8Array {
  const { labels, sizes } = labelComponents(mask, shape);
  const largest = Math.max(0, ...sizes);
  return Uint8Array.from(labels, (l) => (l > 0 && sizes[l - 1] === largest ? 1 : 0));
}
