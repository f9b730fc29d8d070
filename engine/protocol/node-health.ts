/**
 * @module
 * A node's answer to `GET /healthz`: its load, which the Worker ranks nodes by, and what it runs on,
 * which sends GPU-preferred models (manifest `prefers_gpu`) to GPU nodes first.
 *
 * Runs in Node and workerd alike (no `node:` imports).
 */

/** The WebGPU adapter a node sees (Dawn's `GPUAdapterInfo`), e.g. vendor `nvidia` or `google` / `swiftshader`. */
export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software adapter (SwiftShader): WebGPU works, but on the CPU. */
  fallback_adapter: boolean;
}

/** Where a node's models run. */
export interface NodeDevice {
  /** The device the node was started with (`--device`). */
  requested: 'cpu' | 'webgpu' | 'wasm';
  /** The execution provider that runs its models now: `webgpu` only while no session fell back. */
  provider: 'cpu' | 'webgpu' | 'wasm';
  /** The adapter Dawn finds with this node's Vulkan drivers; null on CPU nodes and where none exists. */
  adapter: GpuAdapterInfo | null;
  /** Why a WebGPU node runs on the CPU provider; null when it does not. */
  fallback_reason: string | null;
}

/** `GET /healthz` of an inference node. */
export interface NodeHealth {
  status: 'ok';
  running: number;
  queued: number;
  concurrency: number;
  queue: number;
  /** The requested device (kept as a string for older readers; `gpu` has the whole state). */
  device: NodeDevice['requested'];
  gpu: NodeDevice;
  models: string[];
  uptime_s: number;
}

/** Whether a node's models run on a GPU: WebGPU asked for, running, and on a hardware adapter. */
export function runsOnGpu(d: NodeDevice | undefined): boolean {
  return (
    d?.requested === 'webgpu' &&
    d.provider === 'webgpu' &&
    d.fallback_reason === null &&
    d.adapter !== null &&
    !d.adapter.fallback_adapter
  );
}
