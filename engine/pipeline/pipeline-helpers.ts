/**
 * @module
 * Timing of runtime calls for the segmentation pipeline.
 */
import type { InferenceRuntime } from '../runtime/runtime.js';

/** Wraps `runtime` so that every run adds its wall time to `clock` (the "pure model time"). */
export function timed(runtime: InferenceRuntime, clock: { ms: number; calls: number }): InferenceRuntime {
  return {
    info: runtime.info,
    inputName: runtime.inputName,
    outputNames: runtime.outputNames,
    async run(input, dims) {
      const t = performance.now();
      try {
        return await runtime.run(input, dims);
      } finally {
        clock.ms += performance.now() - t;
        clock.calls++;
      }
    },
    dispose: () => runtime.dispose(),
  };
}
