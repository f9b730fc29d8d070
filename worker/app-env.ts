import type { KernelCore } from '../wasm/src/kernel-core.js';

/** Worker bindings, as declared in wrangler.toml. */
export interface Bindings {
  KERNEL_MEMORY_MB?: string;
}

/** Hono environment: bindings plus per-request variables set by middleware. */
export interface AppEnv {
  Bindings: Bindings;
  Variables: {
    /** The isolate's kernel core, instantiated on first use. */
    kernels: () => Promise<KernelCore>;
  };
}
