/**
 * @module
 * Plain TypeScript softmax / argmax over `[C][N]` channel planes (benchmark baseline for
 * wasm/src/softmax.ts), with Math.exp and no SIMD.
 */

/** Numerically stable softmax over channels. */
export function softmax(logits: Float32Array, channels: number): Float32Array {
  const n = logits.length / channels;
  const out = new Float32Array(logits.length);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let c = 0; c < channels; c++) m = Math.max(m, logits[c * n + i]);
    let s = 0;
    for (let c = 0; c < channels; c++) s += out[c * n + i] = Math.exp(logits[c * n + i] - m);
    for (let c = 0; c < channels; c++) out[c * n + i] /= s;
  }
  return out;
}

/** First channel holding the per-voxel maximum (NaN counts as the maximum, as numpy). */
export function argmax(values: Float32Array, channels: number): Uint8Array {
  const n = values.length / channels;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = values[i];
    let idx = 0;
    for (let c = 1; c < channels; c++) {
      const v = values[c * n + i];
      if (v > best || (Number.isNaN(v) && !Number.isNaN(best))) {
        best = v;
        idx = c;
      }
    }
    out[i] = idx;
  }
  return out;
}
