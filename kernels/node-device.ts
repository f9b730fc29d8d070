/**
 * @module
 * A WebGPU device for Node from `webgpu` (Dawn for Node). Without a GPU, Debian's `chromium`
 * package ships SwiftShader, a CPU Vulkan driver that Dawn accepts: when the default Vulkan
 * drivers give no adapter, the SwiftShader ICD is tried. Only tests and Node GPU nodes use this;
 * the kernels themselves take any `GPUDevice`.
 */
import { existsSync } from 'node:fs';
import { create } from 'webgpu';

/** Where Debian's chromium package puts SwiftShader's Vulkan ICD. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** A device and what it runs on. */
export interface NodeGpu {
  device: GPUDevice;
  /** Vendor, architecture and description of the adapter, e.g. `google swiftshader ...`. */
  adapter: string;
}

/**
 * Dawn instances that handed out a device. Dawn for Node tears its Vulkan instance down when the
 * `GPU` object from `create()` is garbage-collected, under live devices: the process then aborts in
 * a later call ("Invalid argument", "The futex facility returned an unexpected error code", or a
 * pthread priority assertion). Holding the instance for the life of the process prevents that.
 */
const instances: GPU[] = [];

async function adapterFor(features: readonly GPUFeatureName[]): Promise<NodeGpu | null> {
  const gpu = create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) return null;
  instances.push(gpu);
  const wanted = features.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredFeatures: wanted });
  const { vendor, architecture, description } = adapter.info;
  return { device, adapter: [vendor, architecture, description].filter(Boolean).join(' ') };
}

/**
 * The first adapter Dawn finds (with `VK_ICD_FILENAMES` as set), else SwiftShader's when installed;
 * null with the reason when there is none. `features` are requested where the adapter has them.
 */
export async function requestNodeGpu(
  features: readonly GPUFeatureName[] = [],
): Promise<NodeGpu | { device: null; reason: string }> {
  const first = await adapterFor(features);
  if (first) return first;
  if (process.env.VK_ICD_FILENAMES === undefined && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    const swiftshader = await adapterFor(features);
    if (swiftshader) return swiftshader;
  }
  return {
    device: null,
    reason:
      `Dawn found no WebGPU adapter (VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? 'unset'}; ` +
      `install Debian's chromium and libvulkan1 for SwiftShader at ${SWIFTSHADER_ICD})`,
  };
}
