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
  /**
   * Where the latest run's slice steps after the network ran: the WGSL kernels (`webgpu`) or the
   * WASM kernels, with why a WebGPU node did not use the GPU ones. Absent before the first run.
   */
  slices?: { kind: 'wasm' | 'webgpu'; fallback_reason: string | null };
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
  /**
   * Every release the node holds, as `<id>@<version>` (engine/models/reference.ts), current and
   * older ones. Absent from nodes older than this field: they may hold any release.
   */
  releases?: string[];
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

/** A node that answered its health check, as placement ranks it. */
export interface NodeCheck {
  node: string;
  /** Its place in the configured list. */
  order: number;
  /** Running and queued runs over its capacity. */
  load: number;
  /** {@link runsOnGpu} of its `/healthz`. */
  gpu: boolean;
  /** The releases it holds (`<id>@<version>`), or null when its `/healthz` does not say. */
  releases: readonly string[] | null;
}

/** A node's {@link NodeCheck} from its `/healthz` answer. */
export function checkOf(node: string, order: number, h: NodeHealth): NodeCheck | null {
  // Without its counts a node's load is NaN, which no sort order can place: it counts as silent.
  const counts = [h.running, h.queued, h.concurrency, h.queue];
  if (!counts.every((n) => Number.isFinite(n) && n >= 0)) return null;
  const capacity = Math.max(1, h.concurrency + h.queue);
  const releases = Array.isArray(h.releases) ? h.releases.filter((r) => typeof r === 'string') : null;
  return { node, order, load: (h.running + h.queued) / capacity, gpu: runsOnGpu(h.gpu), releases };
}

/**
 * The nodes in the order to try them: GPU nodes first when the model prefers them (manifest
 * `prefers_gpu`), then least loaded first, ties in the configured order.
 */
export function orderNodes(checks: readonly NodeCheck[], preferGpu: boolean): string[] {
  const rank = (c: NodeCheck): number => (preferGpu && c.gpu ? 0 : 1);
  return [...checks]
    .sort((a, b) => rank(a) - rank(b) || a.load - b.load || a.order - b.order)
    .map((c) => c.node);
}
