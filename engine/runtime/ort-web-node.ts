/**
 * @module
 * Node side of the onnxruntime-web adapter: compiles the package's WASM file from disk (allowed in
 * Node) so that the same pre-compiled-module path as in workerd runs.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createOrtWeb, type OrtWebSessionOptions } from './ort-web.js';
import type { InferenceRuntime } from './runtime.js';

let compiled: Promise<WebAssembly.Module> | undefined;

/** The compiled `ort-wasm-simd-threaded.wasm` of the installed onnxruntime-web, compiled once per process. */
export function ortWasmModule(): Promise<WebAssembly.Module> {
  compiled ??= (async () => {
    // The package exports no package.json; its WASM entry sits in dist/ beside the binary.
    const entry = createRequire(import.meta.url).resolve('onnxruntime-web/wasm');
    const bytes = await readFile(join(dirname(entry), 'ort-wasm-simd-threaded.wasm'));
    return WebAssembly.compile(bytes);
  })();
  return compiled;
}

/** onnxruntime-web WASM in Node, for the shared runtime suite, parity and the benchmark. */
export async function createOrtWebForNode(
  model: Uint8Array,
  sessionOptions?: OrtWebSessionOptions,
): Promise<InferenceRuntime> {
  return createOrtWeb(model, await ortWasmModule(), sessionOptions);
}
