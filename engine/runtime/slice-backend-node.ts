/**
 * @module
 * Which slice backend a Node process runs: the WGSL kernels on a Dawn-for-Node device when the model
 * runs on onnxruntime-node's WebGPU provider, else the WASM kernels, with the reason whenever a GPU
 * path was asked for and not taken, so a fallback is visible in every result. Node only.
 */
import { GpuKernels } from '../../kernels/gpu-core.js';
import { requestNodeGpu } from '../../kernels/node-device.js';
import { gpuSliceBackend } from '../inference/gpu-slice-backend.js';
import { wasmSliceBackend, type SliceBackend } from '../inference/slice-backend.js';
import { firstLine } from './gpu-adapter.js';
import type { RuntimeInfo } from './runtime.js';

type NodeKernels = { kernels: GpuKernels; adapter: string } | { kernels: null; reason: string };

let shared: Promise<NodeKernels> | undefined;

/**
 * One device and compiled kernel set per process: compiling every pipeline costs seconds on
 * SwiftShader, and node-device.ts keeps Dawn's instance alive for it.
 */
export function nodeGpuKernels(): Promise<NodeKernels> {
  shared ??= (async (): Promise<NodeKernels> => {
    try {
      const gpu = await requestNodeGpu();
      if (gpu.device === null) return { kernels: null, reason: gpu.reason };
      return { kernels: await GpuKernels.create(gpu.device), adapter: gpu.adapter };
    } catch (err) {
      return { kernels: null, reason: `the WGSL kernels could not start: ${firstLine(err)}` };
    }
  })();
  return shared;
}

/**
 * The slice backend for a model running with `runtime`: the GPU one only when WebGPU was asked for
 * and the model really runs on it (a session that fell back to the CPU means no usable adapter).
 */
export async function nodeSliceBackend(runtime: RuntimeInfo): Promise<SliceBackend> {
  if (runtime.requested !== 'webgpu') return wasmSliceBackend();
  if (runtime.provider !== 'webgpu') {
    return wasmSliceBackend(
      `the model runs on ${runtime.provider}: ${runtime.fallbackReason ?? 'no WebGPU'}`,
    );
  }
  const gpu = await nodeGpuKernels();
  return gpu.kernels ? gpuSliceBackend(gpu.kernels, gpu.adapter) : wasmSliceBackend(gpu.reason);
}
