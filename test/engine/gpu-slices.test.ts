/**
 * The GPU slice backend (WGSL kernels on a Dawn device) against the WASM one inside `segment()`, on
 * real MRI: four sagittal slices of fsB, 96 x 70 voxels in plane, declared at 0.8 mm so that each
 * plane is resampled to the tiny model's 1 mm (77 x 56: four tiles, one of them padded) and back.
 * The network is the same CPU session for both, so any difference is the slice steps'. The GPU run
 * must dispatch every kernel family of the path (a backend that quietly ran the WASM kernels fails),
 * and must report itself as `webgpu`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { GpuKernels } from '../../kernels/gpu-core.js';
import { gpuSliceBackend } from '../../engine/inference/gpu-slice-backend.js';
import { wasmSliceBackend } from '../../engine/inference/slice-backend.js';
import type { ImageVolume } from '../../engine/io/index.js';
import type { ModelManifest } from '../../engine/models/manifest.js';
import { ModelRegistry } from '../../engine/models/registry.js';
import { segment, type SegmentOptions, type SegmentResult } from '../../engine/pipeline/segment.js';
import { nodeRuntimeFactory } from '../../engine/runtime/node-factory.js';
import type { InferenceRuntime } from '../../engine/runtime/runtime.js';
import { nodeGpuKernels, nodeSliceBackend } from '../../engine/runtime/slice-backend-node.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { gpuAvailable } from '../support/webgpu.js';
import { fsbBox, REPO, tempDir } from './engine-helpers.js';

const MIN_AGREEMENT = 0.999;
/**
 * Probabilities: both paths sum the same f32 values in the same order except where a GPU compiler
 * fuses multiply-adds (sliding window, resampling) and WGSL's `exp` (softmax, 1.2e-7); a few ulps of
 * the logits' magnitude, at most 1/4 of which reaches a probability.
 */
const PROBABILITY_TOLERANCE = 1e-5;

let image: ImageVolume;
let manifest: ModelManifest;
let folds: readonly InferenceRuntime[];
let registry: ModelRegistry;

before(async () => {
  const crop = await fsbBox(tempDir(), 'fsB-gpu-slices.nii.gz', [100, 90, 80], [104, 160, 176]);
  image = { ...crop.image, spacing: [1, 0.8, 0.8] };
  registry = new ModelRegistry(join(REPO, 'test/models'), nodeRuntimeFactory);
  manifest = (await registry.load('wm-tiny-2d')).manifest;
  folds = await registry.runtimes('wm-tiny-2d', 'cpu');
});
after(() => registry.dispose());

/** Counts the dispatches of each `family:entry` on `k` while `body` runs. */
async function countDispatches<T>(k: GpuKernels, body: () => Promise<T>): Promise<[T, Map<string, number>]> {
  const counts = new Map<string, number>();
  const dispatch = k.dispatch.bind(k);
  k.dispatch = (family, entry, ...rest) => {
    counts.set(`${family}:${entry}`, (counts.get(`${family}:${entry}`) ?? 0) + 1);
    dispatch(family, entry, ...rest);
  };
  try {
    return [await body(), counts];
  } finally {
    k.dispatch = dispatch;
  }
}

function compare(what: string, gpu: SegmentResult, wasm: SegmentResult): void {
  let same = 0;
  let foreground = 0;
  for (let i = 0; i < wasm.labels.length; i++) {
    same += gpu.labels[i] === wasm.labels[i] ? 1 : 0;
    foreground += wasm.labels[i] === 1 ? 1 : 0;
  }
  let maxDiff = 0;
  if (wasm.probabilities) {
    assert.ok(gpu.probabilities, 'the GPU path returned no probabilities');
    for (let i = 0; i < wasm.probabilities.length; i++) {
      const d = Math.abs(gpu.probabilities[i] - wasm.probabilities[i]);
      maxDiff = Number.isNaN(d) ? Infinity : Math.max(maxDiff, d);
    }
  }
  console.log(
    `${what}: labels ${same}/${wasm.labels.length} identical (${wasm.labels.length - same} differ), ` +
      `${foreground} white-matter voxels; max |p_gpu - p_wasm| ${maxDiff.toExponential(2)}; ` +
      `wall ${gpu.timings.totalMs.toFixed(0)} ms gpu vs ${wasm.timings.totalMs.toFixed(0)} ms wasm`,
  );
  assert.ok(foreground > 0.05 * wasm.labels.length, 'the crop holds white matter');
  assert.ok(
    same / wasm.labels.length >= MIN_AGREEMENT,
    `${what}: ${wasm.labels.length - same} labels differ`,
  );
  assert.ok(maxDiff <= PROBABILITY_TOLERANCE, `${what}: probabilities differ by ${maxDiff}`);
}

async function both(
  options: SegmentOptions,
): Promise<{ gpu: SegmentResult; wasm: SegmentResult; counts: Map<string, number> }> {
  const core = await sharedKernels();
  const found = await nodeGpuKernels();
  assert.ok(found.kernels, `no GPU kernels: ${'reason' in found ? found.reason : ''}`);
  const backend = gpuSliceBackend(found.kernels, found.adapter);
  const [gpu, counts] = await countDispatches(found.kernels, () =>
    segment(core, image, manifest, folds, { ...options, slices: backend }),
  );
  const wasm = await segment(core, image, manifest, folds, { ...options, slices: wasmSliceBackend() });
  assert.deepEqual(gpu.slices, { kind: 'webgpu', adapter: found.adapter });
  assert.deepEqual(wasm.slices, { kind: 'wasm' });
  assert.equal(gpu.timings.modelCalls, wasm.timings.modelCalls, 'the same network calls');
  return { gpu, wasm, counts };
}

if (await gpuAvailable('GPU slice backend: needs a WebGPU adapter')) {
  test('segment() on the GPU slice backend matches the WASM one: TTA, resampled planes, probabilities', async () => {
    const { gpu, wasm, counts } = await both({ tta: true, probabilities: true });
    // Four slices, one batch of four tiles each, four mirror combinations.
    assert.equal(wasm.timings.modelCalls, 16);
    for (const kernel of [
      'mirroring:flip_planes',
      'mirroring:scale',
      'sliding-window:sw_accumulate',
      'sliding-window:sw_divide',
      'resample:resample_linear',
      'softmax:argmax_ch',
      'softmax:softmax_ch',
    ]) {
      assert.ok(
        (counts.get(kernel) ?? 0) >= 4,
        `${kernel} ran ${counts.get(kernel) ?? 0} times, not per slice`,
      );
    }
    assert.equal(counts.get('mirroring:flip_planes'), 16, 'one un-flip per network output');
    compare('tta + probabilities', gpu, wasm);
  });

  test('segment() on the GPU slice backend matches the WASM one with level-set refinement', async () => {
    const { gpu, wasm, counts } = await both({ tta: true, refine: true });
    // Logits and the level set: two un-flips per network call.
    assert.equal(counts.get('mirroring:flip_planes'), 32);
    compare('tta + refine', gpu, wasm);
  });

  test('a WebGPU model gets the GPU slice backend; a fallen-back or CPU one the WASM backend, saying why', async () => {
    const gpu = await nodeSliceBackend({ requested: 'webgpu', provider: 'webgpu', threads: 1 });
    assert.equal(gpu.info.kind, 'webgpu');
    assert.ok(gpu.info.adapter, 'the adapter is named');
    const fell = await nodeSliceBackend({
      requested: 'webgpu',
      provider: 'cpu',
      threads: 1,
      fallbackReason: 'no WebGPU adapter',
    });
    assert.equal(fell.info.kind, 'wasm');
    assert.match(fell.info.fallbackReason ?? '', /runs on cpu: no WebGPU adapter/);
    const cpu = await nodeSliceBackend({ requested: 'cpu', provider: 'cpu', threads: 1 });
    assert.deepEqual(cpu.info, { kind: 'wasm' });
  });
}
