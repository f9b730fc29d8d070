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

/** The U-Net layer modules (wasm/unet/unet.ts): with relaxed SIMD, and without it. */
const UNET_WASM = {
  relaxed: new URL('../../../wasm/build/unet.wasm', import.meta.url),
  plain: new URL('../../../wasm/build/unet.plain.wasm', import.meta.url),
};

/**
 * A kernel core of the U-Net layer module: the relaxed-SIMD build where this V8 validates it (Node
 * 22 and later, or Node 20 started with `--experimental-wasm-relaxed-simd`), else the plain build.
 * `variant` forces one (the tests run both).
 */
export async function loadUnetForNode(variant?: 'relaxed' | 'plain'): Promise<KernelCore> {
  const relaxed = await readFile(UNET_WASM.relaxed);
  const pick = variant ?? (WebAssembly.validate(relaxed) ? 'relaxed' : 'plain');
  const bytes = pick === 'relaxed' ? relaxed : await readFile(UNET_WASM.plain);
  return KernelCore.create(await WebAssembly.compile(bytes));
}
