import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createOrtNodeCpu, createOrtNodeWebGpu } from './ort-node.js';
import { CASE_MODEL_DIR, runtimeCases } from './runtime-cases.js';

runtimeCases('onnxruntime-node cpu', (m) => createOrtNodeCpu(m, { threads: 1 }));

const logged: string[] = [];
runtimeCases('onnxruntime-node webgpu', (m) =>
  createOrtNodeWebGpu(m, { threads: 1, log: (l) => logged.push(l) }),
);

test('webgpu without an adapter falls back to the cpu provider, logs and reports why', async () => {
  // This machine has no Vulkan driver, so Dawn finds no adapter (docs/platform.md).
  assert.equal(logged.length, 1);
  assert.match(logged[0], /^webgpu unavailable, falling back to the CPU provider: .*adapter/i);
  const rt = await createOrtNodeWebGpu(new Uint8Array(readFileSync(`${CASE_MODEL_DIR}model.onnx`)), {
    threads: 2,
  });
  try {
    assert.equal(rt.info.requested, 'webgpu');
    assert.equal(rt.info.provider, 'cpu');
    assert.equal(rt.info.threads, 2);
    assert.match(rt.info.fallbackReason ?? '', /adapter/i);
  } finally {
    await rt.dispose();
  }
});
