/**
 * @module
 * Child process of web-graph-memory.test.ts: the WebAssembly heap onnxruntime-web holds once a session
 * of the ONNX file argv[2] is built and has run one tile. One session per process: the heap only grows.
 */
import { readFileSync } from 'node:fs';
import { createOrtWebForNode } from '../../engine/runtime/ort-web-node.js';

let memory: WebAssembly.Memory | undefined;
// ORT's module imports its memory; seen on the way in, before engine/runtime/ort-web.ts routes the call.
const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (...a: unknown[]) => Promise<unknown>;
(WebAssembly as { instantiate: unknown }).instantiate = (
  source: unknown,
  imports?: Record<string, object>,
) => {
  for (const ns of Object.values(imports ?? {})) {
    for (const v of Object.values(ns)) if (v instanceof WebAssembly.Memory) memory = v;
  }
  return instantiate(source, imports);
};

const runtime = await createOrtWebForNode(new Uint8Array(readFileSync(process.argv[2])));
await runtime.run(new Float32Array(128 * 128), [1, 1, 128, 128]);
if (!memory) throw new Error('onnxruntime-web instantiated no module with an imported memory');
console.log(JSON.stringify({ wasmBytes: memory.buffer.byteLength }));
await runtime.dispose();
