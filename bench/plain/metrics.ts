/**
 * @module
 * Plain TypeScript metrics (benchmark baseline for wasm/src/metrics.ts): the same definitions, with a
 * direct neighbourhood test for the surface and the plain distance transform over the whole volume.
 */
import type { OverlapMetrics } from '../../wasm/src/metrics.js';
import type { Shape3, Spacing3 } from '../../wasm/src/shape.js';
import { distanceToNonzero } from './edt.js';

function surface(mask: Uint8Array, shape: Shape3): Uint8Array {
  const [nx, ny, nz] = shape;
  const dzs = nz === 1 ? [0] : [-1, 0, 1]; // a [w, h, 1] image uses the 3x3 square
  const out = new Uint8Array(mask.length);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const i = (z * ny + y) * nx + x;
        if (mask[i] === 0) continue;
        let edge = false;
        for (const dz of dzs) {
          for (let dy = -1; dy <= 1 && !edge; dy++) {
            for (let dx = -1; dx <= 1 && !edge; dx++) {
              const X = x + dx;
              const Y = y + dy;
              const Z = z + dz;
              // Outside the volume counts as background (scipy border_value=0).
              edge =
                X < 0 || Y < 0 || Z < 0 || X >= nx || Y >= ny || Z >= nz || mask[(Z * ny + Y) * nx + X] === 0;
            }
          }
        }
        out[i] = edge ? 1 : 0;
      }
    }
  }
  return out;
}

function percentile(values: number[], q: number): number {
  values.sort((a, b) => a - b);
  const pos = (q / 100) * (values.length - 1);
  const lo = Math.floor(pos);
  const a = values[lo];
  const b = values[Math.min(lo + 1, values.length - 1)];
  const t = pos - lo;
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

/** Plain version of wasm `binaryMetrics`. */
export function binaryMetrics(
  pred: Uint8Array,
  ref: Uint8Array,
  shape: Shape3,
  spacing: Spacing3,
): OverlapMetrics {
  let na = 0;
  let nb = 0;
  let both = 0;
  for (let i = 0; i < pred.length; i++) {
    na += pred[i] ? 1 : 0;
    nb += ref[i] ? 1 : 0;
    both += pred[i] && ref[i] ? 1 : 0;
  }
  if (na === 0 && nb === 0) return { dice: 1, asd_mm: 0, hd95_mm: 0 };
  const dice = (2 * both) / (na + nb);
  if (na === 0 || nb === 0) return { dice, asd_mm: null, hd95_mm: null };
  const sa = surface(pred, shape);
  const sb = surface(ref, shape);
  const toB = distanceToNonzero(sb, shape, spacing);
  const toA = distanceToNonzero(sa, shape, spacing);
  const pool: number[] = [];
  for (let i = 0; i < sa.length; i++) if (sa[i]) pool.push(toB[i]);
  for (let i = 0; i < sb.length; i++) if (sb[i]) pool.push(toA[i]);
  const asd = pool.reduce((s, d) => s + d, 0) / pool.length;
  return { dice, asd_mm: asd, hd95_mm: percentile(pool, 95) };
}

/** Plain version of wasm `labelMetrics`. */
export function labelMetrics(
  pred: ArrayLike<number>,
  ref: ArrayLike<number>,
  shape: Shape3,
  spacing: Spacing3,
  labels: number[],
): Record<string, OverlapMetrics> {
  const out: Record<string, OverlapMetrics> = {};
  for (const l of labels) {
    const p = Uint8Array.from({ length: pred.length }, (_, i) => (pred[i] === l ? 1 : 0));
    const r = Uint8Array.from({ length: ref.length }, (_, i) => (ref[i] === l ? 1 : 0));
    out[String(l)] = binaryMetrics(p, r, shape, spacing);
  }
  return out;
}
