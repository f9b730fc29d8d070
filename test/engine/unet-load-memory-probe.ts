/**
 * @module
 * Child process of unet-load-memory.test.ts: the resident memory the own U-Net runtime's load adds
 * (VmHWM after `createUnetWasm` less VmRSS before it, the file already read), the module memory it
 * leased, and the bytes of the file's weights as float32. One load per process: VmHWM only grows.
 */
import { readFileSync } from 'node:fs';
import { KernelCore } from '../../wasm/src/kernel-core.js';
import { onnxStateDict } from '../../engine/runtime/onnx-weights.js';
import { createUnetWasm, UNET_WASM_MEMORY_BYTES } from '../../engine/runtime/unet-wasm.js';

const status = (field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
const module = await WebAssembly.compile(
  readFileSync(new URL('../../../wasm/build/unet.plain.wasm', import.meta.url)),
);
const core = await KernelCore.create(module, { maxMemoryBytes: UNET_WASM_MEMORY_BYTES });
// The file's own buffer, not a copy that would be garbage (and perhaps collected) during the load.
const model: Uint8Array = readFileSync(process.argv[2]);
// Run with --expose-gc: what start-up left behind is collected, so the baseline is what stays.
(globalThis as { gc?: () => void }).gc?.();
const before = status('VmRSS');
const runtime = createUnetWasm(core, model);
const added = status('VmHWM') - before;
// Counted after the measurement: this second read of the weights is not part of it.
const floatBytes = [...onnxStateDict(model).values()].reduce((n, w) => n + w.data.byteLength, 0);
console.log(JSON.stringify({ added, moduleBytes: core.memoryBytes, floatBytes }));
await runtime.dispose();
