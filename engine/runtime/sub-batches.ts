/**
 * @module
 * Runs a batch of tiles as consecutive smaller batches. onnxruntime's CPU arena keeps, for the life
 * of the session, the activations of the largest batch it has run (a batch of 8 128x128 tiles of
 * brain-wm-2d: ~95 MB; of 4: ~45 MB, bench/results/engine.md), while its single-threaded
 * convolutions are about as fast per tile at any batch. Each tile's outputs do not depend on the
 * other tiles of its batch, so the results are the same values.
 */
import type { InferenceRuntime, RuntimeTensor } from './runtime.js';

/** `runtime`, running a batch of more than `maxBatch` tiles as consecutive batches of at most `maxBatch`. */
export function inSubBatches(runtime: InferenceRuntime, maxBatch: number): InferenceRuntime {
  if (!(Number.isSafeInteger(maxBatch) && maxBatch >= 1)) {
    throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
  }
  return {
    ...runtime,
    async run(input, dims) {
      const batch = dims[0];
      if (batch <= maxBatch) return runtime.run(input, dims);
      const perTile = input.length / batch;
      const parts: Record<string, RuntimeTensor>[] = [];
      for (let b = 0; b < batch; b += maxBatch) {
        const k = Math.min(maxBatch, batch - b);
        parts.push(await runtime.run(input.subarray(b * perTile, (b + k) * perTile), [k, ...dims.slice(1)]));
      }
      const out: Record<string, RuntimeTensor> = {};
      for (const name of Object.keys(parts[0])) {
        const data = new Float32Array(parts.reduce((n, p) => n + p[name].data.length, 0));
        let at = 0;
        for (const p of parts) {
          data.set(p[name].data, at);
          at += p[name].data.length;
        }
        out[name] = { data, dims: [batch, ...parts[0][name].dims.slice(1)] };
      }
      return out;
    },
  };
}
