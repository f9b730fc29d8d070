/**
 * Nodes that say what they run on: `/healthz` (`gpu`) and `/metrics` (`nnsam_node_device_*`) of a CPU
 * node, of a WebGPU node on the adapter this machine has (SwiftShader in CI: a run on it must report
 * the WebGPU provider and the adapter in its `end` frame), and of a WebGPU node whose Vulkan loader
 * finds no driver (it must report the fallback). Then placement's order over those real answers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { checkOf, decodeFrames, orderNodes, type NodeHealth, type RunEnd } from '../protocol/index.js';
import { fsbBox, REPO, tempDir } from '../../test/engine/engine-helpers.js';
import { gpuAvailable, webgpuEnv } from '../../test/support/webgpu.js';
import { startNode as spawnNode, type InferenceNode } from '../../test/workerd/inference-nodes.js';
import { startNode, type RunningNode } from './serve.js';

const TINY = join(REPO, 'test/models');
const env = webgpuEnv();
let cpu: RunningNode;
let noDriver: InferenceNode;

before(async () => {
  cpu = await startNode({ port: 0, modelsDir: TINY, device: 'cpu' });
  noDriver = await spawnNode(['--models', TINY, '--device', 'webgpu'], {
    ...env,
    VK_ICD_FILENAMES: join(tempDir(), 'no-such-icd.json'),
  });
});

after(async () => {
  await cpu?.close();
  await noDriver?.kill();
});

async function health(url: string): Promise<NodeHealth> {
  const res = await fetch(`${url}/healthz`);
  assert.equal(res.status, 200);
  return (await res.json()) as NodeHealth;
}

async function deviceMetrics(url: string): Promise<string[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith('nnsam_node_device_'));
}

test('a cpu node reports the cpu provider, no adapter and no fallback', async () => {
  const h = await health(cpu.url);
  assert.equal(h.device, 'cpu');
  assert.deepEqual(h.gpu, { requested: 'cpu', provider: 'cpu', adapter: null, fallback_reason: null });
  assert.deepEqual(await deviceMetrics(cpu.url), [
    'nnsam_node_device_info{requested="cpu",provider="cpu",adapter_vendor="",adapter_architecture="",adapter="",fallback_adapter=""} 1',
    'nnsam_node_device_fallback 0',
  ]);
});

test('a webgpu node without a Vulkan driver reports the fallback to the cpu provider', async () => {
  const h = await health(noDriver.url);
  assert.equal(h.device, 'webgpu');
  assert.equal(h.gpu.requested, 'webgpu');
  assert.equal(h.gpu.provider, 'cpu');
  assert.equal(h.gpu.adapter, null);
  assert.match(h.gpu.fallback_reason ?? '', /adapter/i);
  const m = await deviceMetrics(noDriver.url);
  assert.ok(m.includes('nnsam_node_device_fallback 1'), m.join('\n'));
  assert.ok(m.some((l) => l.includes('requested="webgpu",provider="cpu"')));
});

if (await gpuAvailable('a webgpu node: needs a WebGPU adapter')) {
  test(
    'a webgpu node reports its adapter, and a run on it the webgpu provider',
    { timeout: 240_000 },
    async () => {
      const gpu = await startNode({ port: 0, modelsDir: TINY, device: 'webgpu' });
      try {
        const h = await health(gpu.url);
        assert.equal(h.gpu.provider, 'webgpu');
        assert.equal(h.gpu.fallback_reason, null);
        assert.ok(h.gpu.adapter && h.gpu.adapter.description, JSON.stringify(h.gpu));
        const adapter = h.gpu.adapter;
        const m = await deviceMetrics(gpu.url);
        assert.ok(
          m.some((l) => l.includes(`provider="webgpu"`) && l.includes(`adapter="${adapter.description}"`)),
          m.join('\n'),
        );
        assert.ok(m.includes('nnsam_node_device_fallback 0'));

        const crop = await fsbBox(tempDir(), 'fsB-96.nii.gz', [100, 80, 80], [101, 176, 176]);
        const res = await fetch(`${gpu.url}/v1/run?model=wm-tiny-2d&format=json&tta=false`, {
          method: 'POST',
          body: readFileSync(crop.path),
        });
        assert.equal(res.status, 200);
        let end: RunEnd | undefined;
        for await (const f of decodeFrames(res.body!)) {
          assert.notEqual(f.type, 'error', JSON.stringify(f.body));
          if (f.type === 'end') end = f.body;
        }
        assert.equal(end?.runtime.provider, 'webgpu');
        assert.equal(end?.runtime.fallbackReason, undefined);
        assert.equal(end?.runtime.adapter, adapter.description);
        assert.equal(end?.runtime.slices?.kind, 'webgpu', JSON.stringify(end?.runtime.slices));
        const after = (await health(gpu.url)).gpu;
        assert.equal(after.provider, 'webgpu');
        assert.deepEqual(after.slices, { kind: 'webgpu', fallback_reason: null });
      } finally {
        await gpu.close();
      }
    },
  );
}

test('placement: GPU-preferred models go to hardware-GPU nodes first; SwiftShader is no GPU', async () => {
  const cpuHealth = await health(cpu.url);
  const fellBack = await health(noDriver.url);
  // What a node on a hardware adapter answers (this machine has none): busier than the others.
  const hardware: NodeHealth = {
    ...cpuHealth,
    running: 1,
    queued: 4,
    device: 'webgpu',
    gpu: {
      requested: 'webgpu',
      provider: 'webgpu',
      adapter: {
        vendor: 'nvidia',
        architecture: '',
        device: '',
        description: 'NVIDIA',
        fallback_adapter: false,
      },
      fallback_reason: null,
    },
  };
  const software: NodeHealth = {
    ...hardware,
    running: 0,
    queued: 0,
    gpu: { ...hardware.gpu, adapter: { ...hardware.gpu.adapter!, fallback_adapter: true } },
  };
  const checks = [
    checkOf('cpu', 0, cpuHealth),
    checkOf('fell-back', 1, fellBack),
    checkOf('hardware', 2, hardware),
    checkOf('swiftshader', 3, software),
  ].map((c) => {
    assert.ok(c, 'every answer carries its counts');
    return c;
  });
  assert.deepEqual(
    checks.map((c) => c.gpu),
    [false, false, true, false],
  );
  assert.deepEqual(orderNodes(checks, true), ['hardware', 'cpu', 'fell-back', 'swiftshader']);
  assert.deepEqual(orderNodes(checks, false), ['cpu', 'fell-back', 'swiftshader', 'hardware']);
});
