/**
 * @module
 * The WebGPU adapter this process can get, read through Dawn for Node (the npm package `webgpu`).
 * onnxruntime-node does not expose the adapter its WebGPU provider picks; both are Dawn over the same
 * Vulkan drivers (`VK_ICD_FILENAMES` included) with the same high-performance preference, so this is
 * the adapter it gets too. Node only.
 */
import type { GpuAdapterInfo } from '../protocol/node-health.js';

/** The adapter, or why there is none. */
export type AdapterProbe = { adapter: GpuAdapterInfo; error?: never } | { adapter: null; error: string };

interface DawnAdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

let probed: Promise<AdapterProbe> | undefined;

/** Asks Dawn for a high-performance adapter, once per process. */
export function probeGpuAdapter(): Promise<AdapterProbe> {
  probed ??= probe();
  return probed;
}

async function probe(): Promise<AdapterProbe> {
  let dawn: { create(flags: string[]): { requestAdapter(o?: object): Promise<unknown> } };
  try {
    dawn = (await import('webgpu')) as unknown as typeof dawn;
  } catch (err) {
    return { adapter: null, error: `Dawn for Node (npm webgpu) could not be loaded: ${firstLine(err)}` };
  }
  try {
    const adapter = (await dawn.create([]).requestAdapter({ powerPreference: 'high-performance' })) as {
      info?: DawnAdapterInfo;
      isFallbackAdapter?: boolean;
    } | null;
    if (!adapter) return { adapter: null, error: 'no WebGPU adapter (no usable Vulkan driver)' };
    const info = adapter.info ?? {};
    return {
      adapter: {
        vendor: info.vendor ?? '',
        architecture: info.architecture ?? '',
        device: info.device ?? '',
        description: info.description ?? '',
        fallback_adapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
      },
    };
  } catch (err) {
    return { adapter: null, error: `no WebGPU adapter: ${firstLine(err)}` };
  }
}

/** The first line of an error's message. */
export function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0].trim() || 'unknown error';
}
