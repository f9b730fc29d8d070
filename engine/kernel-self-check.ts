import { boundingBox } from '../wasm/src/crop.js';
import type { KernelCore } from '../wasm/src/kernel-core.js';

/** Result of {@link kernelSelfCheck}. */
export interface KernelSelfCheck {
  ok: boolean;
  detail: string;
}

/**
 * Runs one kernel on a tiny known input, so a health check proves the WASM module is loaded,
 * SIMD-capable and computing, not merely present.
 */
export function kernelSelfCheck(core: KernelCore): KernelSelfCheck {
  // A 5x4x3 volume with one 2x2x1 block of foreground at x 1..2, y 2..3, z 1.
  const mask = new Uint8Array(5 * 4 * 3);
  for (const [x, y] of [
    [1, 2],
    [2, 2],
    [1, 3],
    [2, 3],
  ]) {
    mask[1 * 20 + y * 5 + x] = 1;
  }
  const box = boundingBox(core, mask, [5, 4, 3]);
  const got = box ? [...box.start, ...box.end].join(',') : 'empty';
  const want = '1,2,1,3,4,2';
  return { ok: got === want, detail: `bbox ${got}` };
}
