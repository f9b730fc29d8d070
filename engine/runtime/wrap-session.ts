/**
 * @module
 * Adapts an onnxruntime session (onnxruntime-node and onnxruntime-web share the API) to
 * {@link InferenceRuntime}. Type-only imports: the Worker bundle must not pull in onnxruntime-node.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-web/wasm';
import type { InferenceRuntime, RuntimeInfo, RuntimeTensor } from './runtime.js';

/** Wraps `session`; `tensor` builds an input tensor of the session's own package. */
export function wrapOrtSession(
  session: InferenceSession,
  tensor: (data: Float32Array, dims: readonly number[]) => Tensor,
  info: RuntimeInfo,
): InferenceRuntime {
  return {
    info,
    inputName: session.inputNames[0],
    outputNames: session.outputNames,
    async run(input, dims) {
      const out = await session.run({ [session.inputNames[0]]: tensor(input, dims) });
      const result: Record<string, RuntimeTensor> = {};
      for (const name of session.outputNames) {
        const t = out[name];
        result[name] = { data: t.data as Float32Array, dims: t.dims };
      }
      return result;
    },
    dispose: () => session.release(),
  };
}
