import kernelsModule from '../wasm/build/kernels.wasm';
import { KernelCore } from '../wasm/src/kernel-core.js';
import type { Bindings } from './app-env.js';
import { createApp } from './app.js';

let kernels: Promise<KernelCore> | undefined;

// One kernel core per isolate, created on first use; its memory cap leaves room in the 128 MB isolate.
const app = createApp((env: Bindings) => {
  kernels ??= KernelCore.create(kernelsModule, {
    maxMemoryBytes: Number(env.KERNEL_MEMORY_MB ?? '64') * 2 ** 20,
  });
  return kernels;
});

export default app;
