/**
 * `nnsam segment --device webgpu` end to end against `--device cpu` on real MRI: a 96x96 crop of one
 * fsB sagittal slice through white matter, with the tiny model (test/models/wm-tiny-2d, 4 model calls
 * with TTA; about 40 s on SwiftShader), which must run on the WebGPU provider (no silent CPU fallback)
 * with its slice steps in the WGSL kernels, and give the CPU's labels on >= 99.9 % of voxels. Then
 * the fallback itself, in a process whose Vulkan loader finds no driver: it must say so, for the model
 * and for the slice steps.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { readImageFile } from '../../engine/cli/files.js';
import { runCli } from '../../engine/cli/main.js';
import { labelMetrics } from '../../wasm/src/metrics.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { gpuAvailable, webgpuEnv } from '../support/webgpu.js';
import { fsbBox, REPO, tempDir } from './engine-helpers.js';

const TINY_MODELS = join(REPO, 'test/models');
const MIN_AGREEMENT = 0.999;
/** The crop's white matter against fsB's label: 0.763 measured; a floor that an empty or noise map misses. */
const MIN_DICE = 0.7;

interface SegmentJson {
  runtime: { requested: string; provider: string; fallbackReason?: string };
  slices: { kind: string; adapter?: string; fallbackReason?: string };
  timings_ms: { model_calls: number };
}

let dir: string;
let crop: Awaited<ReturnType<typeof fsbBox>>;
const env = webgpuEnv();
before(async () => {
  dir = tempDir();
  crop = await fsbBox(dir, 'fsB-96.nii.gz', [100, 80, 80], [101, 176, 176]);
});

async function segment(device: string): Promise<{ json: SegmentJson; labels: Float32Array }> {
  const out = join(dir, `seg-${device}.nii.gz`);
  let stdout = '';
  let stderr = '';
  const argv = ['segment', crop.path, '-o', out, '--model', 'wm-tiny-2d', '--models', TINY_MODELS];
  const code = await runCli([...argv, '--device', device, '--json'], {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    isTTY: false,
  });
  assert.equal(code, 0, stderr);
  return { json: JSON.parse(stdout) as SegmentJson, labels: (await readImageFile(out)).data };
}

if (await gpuAvailable('segment --device webgpu: needs a WebGPU adapter')) {
  test('segment --device webgpu runs on the WebGPU provider and agrees with --device cpu', async () => {
    const cpu = await segment('cpu');
    const t0 = performance.now();
    const gpu = await segment('webgpu');
    const seconds = (performance.now() - t0) / 1000;
    assert.equal(gpu.json.runtime.requested, 'webgpu');
    assert.equal(gpu.json.runtime.provider, 'webgpu', `fell back: ${gpu.json.runtime.fallbackReason ?? ''}`);
    assert.equal(gpu.json.runtime.fallbackReason, undefined);
    // The steps after the network ran in the WGSL kernels, on Dawn beside onnxruntime's own device.
    assert.equal(
      gpu.json.slices.kind,
      'webgpu',
      `slice steps on wasm: ${gpu.json.slices.fallbackReason ?? ''}`,
    );
    assert.deepEqual(cpu.json.slices, { kind: 'wasm' });
    assert.equal(gpu.json.timings_ms.model_calls, cpu.json.timings_ms.model_calls);
    let same = 0;
    for (let i = 0; i < cpu.labels.length; i++) same += cpu.labels[i] === gpu.labels[i] ? 1 : 0;
    const agreement = same / cpu.labels.length;
    const k = await sharedKernels();
    const dice = labelMetrics(k, gpu.labels, crop.label, crop.image.shape, crop.image.spacing, [1])['1'].dice;
    process.stderr.write(
      `webgpu segment: ${seconds.toFixed(1)} s, ${same}/${cpu.labels.length} labels as on cpu, Dice ${dice.toFixed(3)}\n`,
    );
    assert.ok(agreement >= MIN_AGREEMENT, `labels agree on ${(100 * agreement).toFixed(3)} % of voxels`);
    assert.ok(dice >= MIN_DICE, `white-matter Dice ${dice} < ${MIN_DICE}: not a real segmentation`);
  });
}

test('segment --device webgpu without a Vulkan driver says it fell back to the cpu', async () => {
  const out = join(dir, 'seg-fallback.nii.gz');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(REPO, 'bin/nnsam.js'), 'segment', crop.path, '-o', out, '--model', 'wm-tiny-2d'].concat([
      '--models',
      TINY_MODELS,
      '--device',
      'webgpu',
      '--no-tta',
      '--json',
    ]),
    { env: { ...env, VK_ICD_FILENAMES: join(dir, 'no-such-icd.json') } },
  );
  const json = JSON.parse(stdout) as SegmentJson;
  assert.equal(json.runtime.requested, 'webgpu');
  assert.equal(json.runtime.provider, 'cpu');
  assert.match(json.runtime.fallbackReason ?? '', /adapter/i);
  assert.equal(json.slices.kind, 'wasm');
  assert.match(json.slices.fallbackReason ?? '', /runs on cpu/);
});
