import { readFile } from 'node:fs/promises';
import { KernelCore, type KernelCoreOptions } from './kernel-core.js';

/** Where `npm run build:wasm` writes the module, relative to this file's compiled location. */
const KERNELS_WASM = new URL('../../../wasm/build/kernels.wasm', import.meta.url);

let shared: Promise<KernelCore> | undefined;

/** Compiles the kernel module from disk (allowed in Node, unlike workerd) and instantiates it. */
export async function loadKernelsForNode(options?: KernelCoreOptions): Promise<KernelCore> {
  const module = await WebAssembly.compile(await readFile(KERNELS_WASM));
  return KernelCore.create(module, options);
}

/** One kernel core per Node process, created on first use. */
export function sharedKernels(): Promise<KernelCore> {
  shared ??= loadKernelsForNode();
  return shared;
}
