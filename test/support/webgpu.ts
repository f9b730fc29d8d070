/**
 * @module
 * Where the WebGPU tests get their adapter. Without a GPU, Debian's `chromium` package ships
 * SwiftShader, a CPU Vulkan driver that Dawn accepts (`.ci/run` installs it); when the environment
 * names no Vulkan driver and that one is present, tests point the Vulkan loader at it. Whether an
 * adapter exists is then asked of Dawn itself. With none, the WebGPU tests fail where `CI=true`
 * (a skipped GPU test must never read as a pass there) and skip with a loud message elsewhere.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import type { GpuAdapterInfo } from '../../engine/protocol/node-health.js';
import { probeGpuAdapter } from '../../engine/runtime/gpu-adapter.js';

/** SwiftShader's Vulkan ICD as Debian 12's `chromium` installs it. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Sets `VK_ICD_FILENAMES` to SwiftShader when unset and installed; returns the environment children get. */
export function webgpuEnv(): NodeJS.ProcessEnv {
  if (process.env.VK_ICD_FILENAMES === undefined && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  return { ...process.env };
}

/** The WebGPU adapter of this process (after {@link webgpuEnv}), or why there is none. */
export async function webgpuAdapter(): Promise<{ adapter: GpuAdapterInfo | null; why: string }> {
  webgpuEnv();
  const p = await probeGpuAdapter();
  return p.adapter ? { adapter: p.adapter, why: '' } : { adapter: null, why: p.error };
}

/**
 * Whether the WebGPU tests of `what` can run here. When Dawn finds no adapter it registers a test
 * under `what` that fails where `CI` is `true` and is skipped, with a warning on stderr, elsewhere.
 */
export async function gpuAvailable(what: string): Promise<boolean> {
  const { adapter, why } = await webgpuAdapter();
  if (adapter) return true;
  const message = `WebGPU unavailable (${why}); install Debian's chromium for SwiftShader (see .ci/run)`;
  if (process.env.CI === 'true') {
    test(what, () => assert.fail(`CI=true and ${message}`));
  } else {
    process.stderr.write(`\n!!! WEBGPU TESTS SKIPPED: ${what}: ${message}\n\n`);
    test(what, { skip: message }, () => {});
  }
  return false;
}
