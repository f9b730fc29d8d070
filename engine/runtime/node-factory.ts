/**
 * @module
 * The Node registry table of runtime adapters: one factory per device.
 */
import type { RuntimeFactory } from '../models/registry.js';
import { createOrtNodeCpu, createOrtNodeWebGpu } from './ort-node.js';
import { createOrtWebForNode } from './ort-web-node.js';

/** Creates the adapter for `device`: onnxruntime-node CPU or WebGPU (with CPU fallback), or onnxruntime-web WASM. */
export const nodeRuntimeFactory: RuntimeFactory = (model, device, options) => {
  switch (device) {
    case 'cpu':
      return createOrtNodeCpu(model, options);
    case 'webgpu':
      return createOrtNodeWebGpu(model, options);
    case 'wasm':
      return createOrtWebForNode(model);
  }
};
