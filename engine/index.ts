/**
 * @module
 * The package's public API for Node: image I/O, the WASM kernels with their typed wrappers, and the
 * error types. Workers import the same modules and hand `KernelCore.create` a pre-compiled module.
 */
export * from './errors.js';
export * from './io/index.js';
export * from './client/index.js';
export { KernelCore, KernelHeap, type KernelCoreOptions } from '../wasm/src/kernel-core.js';
export { KernelArgumentError } from '../wasm/src/kernel-errors.js';
export { loadKernelsForNode, sharedKernels } from '../wasm/src/node-loader.js';
export type { Shape3, Spacing3 } from '../wasm/src/shape.js';
export * from '../wasm/src/crop.js';
export * from '../wasm/src/normalize.js';
export * from '../wasm/src/resample.js';
export * from '../wasm/src/sliding-window.js';
export * from '../wasm/src/softmax.js';
export * from '../wasm/src/components.js';
export * from '../wasm/src/edt.js';
export * from '../wasm/src/levelset.js';
export * from '../wasm/src/metrics.js';
export * from './models/manifest.js';
export * from './models/registry.js';
export * from './models/reference.js';
export * from './runtime/runtime.js';
export { createOrtNodeCpu, createOrtNodeWebGpu } from './runtime/ort-node.js';
export { createOrtWeb, type OrtWebSessionOptions } from './runtime/ort-web.js';
export { createOrtWebForNode, ortWasmModule } from './runtime/ort-web-node.js';
export { nodeRuntimeFactory } from './runtime/node-factory.js';
export {
  segment,
  type SegmentOptions,
  type SegmentProgress,
  type SegmentResult,
} from './pipeline/segment.js';
export type { LabelStats } from './postprocessing/label-stats.js';
export * from './server/index.js';
