/**
 * @module
 * onnxruntime-web on its WASM backend, loaded the way workerd allows (docs/platform.md): the
 * `ort-wasm-simd-threaded.wasm` file arrives as an already compiled `WebAssembly.Module` (a
 * `CompiledWasm` import in the Worker, `WebAssembly.compile` in Node), `env.wasm.wasmBinary` gets a
 * placeholder, and the placeholder's `WebAssembly.instantiate` call is routed to the compiled module,
 * so nothing is compiled from bytes at run time. One thread, no proxy worker.
 */
import * as ort from 'onnxruntime-web/wasm';
import { wrapOrtSession } from './wrap-session.js';
import type { InferenceRuntime } from './runtime.js';

const MARKER = 'nnsam-ort-precompiled';

/**
 * The placeholder handed to onnxruntime-web as its "binary": an empty WASM module with one custom
 * section naming it. Emscripten copies the binary before instantiating, so it is recognised by its
 * bytes, not by identity.
 */
const PLACEHOLDER = new Uint8Array([
  ...[0, 97, 115, 109, 1, 0, 0, 0],
  ...[0, MARKER.length + 1, MARKER.length],
  ...new TextEncoder().encode(MARKER),
]);

function isPlaceholder(source: unknown): boolean {
  if (!ArrayBuffer.isView(source) && !(source instanceof ArrayBuffer)) return false;
  const bytes = ArrayBuffer.isView(source)
    ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength)
    : new Uint8Array(source);
  return bytes.length === PLACEHOLDER.length && bytes.every((b, i) => b === PLACEHOLDER[i]);
}

let routed: WebAssembly.Module | undefined;

/** Routes the placeholder's instantiation to `module`; the first module wins (ORT initialises once per isolate). */
function routeInstantiate(module: WebAssembly.Module): void {
  if (routed) return;
  routed = module;
  const original = WebAssembly.instantiate.bind(WebAssembly) as (
    source: unknown,
    imports?: WebAssembly.Imports,
  ) => Promise<unknown>;
  const patched = async (source: unknown, imports?: WebAssembly.Imports): Promise<unknown> => {
    if (isPlaceholder(source)) {
      const instance = (await original(routed, imports)) as WebAssembly.Instance;
      return { instance, module: routed };
    }
    return original(source, imports);
  };
  (WebAssembly as { instantiate: unknown }).instantiate = patched;
}

/** Session options a caller may tune (the benchmark compares them). */
export type OrtWebSessionOptions = Pick<
  ort.InferenceSession.SessionOptions,
  'freeDimensionOverrides' | 'graphOptimizationLevel' | 'enableMemPattern' | 'enableCpuMemArena'
>;

/** onnxruntime-web (WASM SIMD, one thread) on the pre-compiled ORT module `wasmModule`. */
export async function createOrtWeb(
  model: Uint8Array,
  wasmModule: WebAssembly.Module,
  sessionOptions: OrtWebSessionOptions = {},
): Promise<InferenceRuntime> {
  routeInstantiate(wasmModule);
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary = PLACEHOLDER;
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    ...sessionOptions,
  });
  return wrapOrtSession(session, (data, dims) => new ort.Tensor('float32', data, dims), {
    requested: 'wasm',
    provider: 'wasm',
    threads: 1,
  });
}
