import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readNpy } from '../../test/support/npy.js';
import { gpuAvailable, webgpuEnv } from '../../test/support/webgpu.js';
import { createOrtNodeCpu, createOrtNodeWebGpu } from './ort-node.js';
import { CASE_MODEL_DIR, runtimeCases, TINY_MODEL_DIR } from './runtime-cases.js';
import type { InferenceRuntime } from './runtime.js';
import { inSubBatches } from './sub-batches.js';

runtimeCases('onnxruntime-node cpu', (m) => createOrtNodeCpu(m, { threads: 1 }), { provider: 'cpu' });

test('a batch of 8 run a tile at a time (the default) or in threes gives the values of one call of 8', async () => {
  const model = new Uint8Array(readFileSync(`${CASE_MODEL_DIR}model.onnx`));
  // Eight different real patches: the parity inputs, mirrored, negated and scaled.
  const parity = readNpy(`${CASE_MODEL_DIR}parity/input.npy`).data as Float32Array;
  const tile = parity.length / 2;
  const x = new Float32Array(8 * tile);
  for (let b = 0; b < 8; b++) {
    const src = parity.subarray((b % 2) * tile, ((b % 2) + 1) * tile);
    for (let i = 0; i < tile; i++)
      x[b * tile + i] = (b & 2 ? src[tile - 1 - i] : src[i]) * (b & 4 ? -0.5 : 1);
  }
  const dims = [8, 1, 128, 128];
  const whole = await createOrtNodeCpu(model, { threads: 1, maxBatch: 8 });
  const byTile = await createOrtNodeCpu(model, { threads: 1 });
  const calls: number[] = [];
  const counted: InferenceRuntime = {
    ...whole,
    run: (input, d) => {
      calls.push(d[0]);
      return whole.run(input, d);
    },
  };
  try {
    const want = await whole.run(x, dims);
    for (const [what, rt] of [
      ['one tile per call', byTile],
      ['threes', inSubBatches(counted, 3)],
    ] as const) {
      const got = await rt.run(x, dims);
      for (const name of whole.outputNames) {
        assert.deepEqual(got[name].dims, want[name].dims, `${what}: ${name} dims`);
        const at = got[name].data.findIndex((v, i) => !Object.is(v, want[name].data[i]));
        assert.equal(at, -1, `${what}: ${name} differs at ${at}`);
      }
    }
    assert.deepEqual(calls, [3, 3, 2]);
  } finally {
    await whole.dispose();
    await byTile.dispose();
  }
  assert.throws(() => inSubBatches(whole, 0), RangeError);
});

// The WebGPU provider for real (SwiftShader in CI): the tiny model, since every call takes seconds there.
const logged: string[] = [];
const env = webgpuEnv();
if (await gpuAvailable('onnxruntime-node webgpu: the case suite needs a WebGPU adapter')) {
  runtimeCases(
    'onnxruntime-node webgpu',
    (m) => createOrtNodeWebGpu(m, { threads: 1, log: (l) => logged.push(l) }),
    { modelDir: TINY_MODEL_DIR, provider: 'webgpu' },
  );
  test('onnxruntime-node webgpu: nothing was logged about a fallback', () => assert.deepEqual(logged, []));
}

test('webgpu without an adapter falls back to the cpu provider, logs and reports why', async () => {
  // A process whose Vulkan loader finds no driver: Dawn has no adapter, session creation throws.
  const ortNode = new URL('./ort-node.js', import.meta.url).href;
  const script = `
    import { readFileSync } from 'node:fs';
    import { createOrtNodeWebGpu } from ${JSON.stringify(ortNode)};
    const logged = [];
    const rt = await createOrtNodeWebGpu(new Uint8Array(readFileSync(${JSON.stringify(`${CASE_MODEL_DIR}model.onnx`)})),
      { threads: 2, log: (l) => logged.push(l) });
    const out = await rt.run(new Float32Array(128 * 128), [1, 1, 128, 128]);
    console.log(JSON.stringify({ info: rt.info, logged, dims: out.logits.dims }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...env, VK_ICD_FILENAMES: fileURLToPath(new URL('./no-such-icd.json', import.meta.url)) },
  });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
    info: { requested: string; provider: string; threads: number; fallbackReason?: string };
    logged: string[];
    dims: number[];
  };
  assert.equal(r.info.requested, 'webgpu');
  assert.equal(r.info.provider, 'cpu');
  assert.equal(r.info.threads, 2);
  assert.match(r.info.fallbackReason ?? '', /adapter/i);
  assert.equal(r.logged.length, 1);
  assert.match(r.logged[0], /^webgpu unavailable, falling back to the CPU provider: .*adapter/i);
  assert.deepEqual(r.dims, [1, 2, 128, 128]);
});
