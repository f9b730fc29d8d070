import { KernelCore } from '../engine/edge.js';
import kernelsModule from '../wasm/build/kernels.wasm';
import { createApp } from './app.js';
import { readConfig, type ApiConfig } from './config.js';

export { JobRunner } from './durable-objects/job-runner.js';
export { TenantLedger } from './durable-objects/tenant-ledger.js';
export { UploadSession } from './durable-objects/upload-session.js';
export { UploadToken } from './durable-objects/upload-token.js';

let kernels: Promise<KernelCore> | undefined;
let config: ApiConfig | undefined;

// One kernel core and one parsed configuration per isolate: bindings do not change within it.
const app = createApp({
  kernels: (env: Env) => {
    kernels ??= KernelCore.create(kernelsModule, {
      maxMemoryBytes: Number(env.KERNEL_MEMORY_MB ?? '64') * 2 ** 20,
    });
    return kernels;
  },
  config: (env: Env) => (config ??= readConfig(env)),
});

export default app;
