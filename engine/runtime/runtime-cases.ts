/**
 * @module
 * The one case suite every {@link InferenceRuntime} adapter runs (as hono's routers share
 * `common.case.test.ts`): the shipped model's parity golden within the manifest's tolerance, batch
 * independence, and the declared outputs.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readNpy } from '../../test/support/npy.js';
import type { Device, InferenceRuntime } from './runtime.js';

/** The model the suite runs by default: the smallest shipped model with parity goldens. */
export const CASE_MODEL_DIR = fileURLToPath(new URL('../../../models/brain-wm-2d/', import.meta.url));
/**
 * A tiny model of the same contract (test/models/wm-tiny-2d, about 40 k parameters, 64x64 patches)
 * for slow backends: WebGPU on SwiftShader takes seconds per call whatever the model.
 */
export const TINY_MODEL_DIR = fileURLToPath(new URL('../../../test/models/wm-tiny-2d/', import.meta.url));

/** Options of {@link runtimeCases}. */
export interface CaseOptions {
  /** Model folder with `model.onnx`, `manifest.json` and `parity/` (default {@link CASE_MODEL_DIR}). */
  modelDir?: string;
  /** The provider the adapter must report, without a fallback reason (a silent CPU fallback fails). */
  provider?: Device;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Registers the shared cases for the adapter `create` makes, under `name`. */
export function runtimeCases(
  name: string,
  create: (model: Uint8Array) => Promise<InferenceRuntime>,
  options: CaseOptions = {},
): void {
  const dir = options.modelDir ?? CASE_MODEL_DIR;
  const manifest = JSON.parse(readFileSync(`${dir}manifest.json`, 'utf8')) as {
    parity_tolerance: number;
    onnx: { outputs: { name: string }[] };
  };
  const input = readNpy(`${dir}parity/input.npy`);
  const x = Float32Array.from(input.data as Float32Array);
  let rt: InferenceRuntime;
  let single: Record<string, { data: Float32Array; dims: readonly number[] }>;

  before(async () => {
    rt = await create(new Uint8Array(readFileSync(`${dir}model.onnx`)));
    single = await rt.run(x, input.shape);
  });
  after(() => rt.dispose());

  if (options.provider) {
    const provider = options.provider;
    test(`${name}: runs on the ${provider} provider, with no fallback`, () => {
      assert.equal(rt.info.provider, provider, `fell back: ${rt.info.fallbackReason ?? ''}`);
      assert.equal(rt.info.fallbackReason, undefined);
    });
  }

  test(`${name}: declares and returns the manifest's outputs`, () => {
    assert.deepEqual([...rt.outputNames].sort(), manifest.onnx.outputs.map((o) => o.name).sort());
    assert.equal(rt.inputName, 'input');
    for (const o of manifest.onnx.outputs) assert.equal(single[o.name].dims[0], input.shape[0]);
  });

  test(`${name}: matches the PyTorch parity goldens within the manifest tolerance`, () => {
    for (const o of manifest.onnx.outputs) {
      const golden = readNpy(`${dir}parity/${o.name}.npy`);
      assert.deepEqual([...single[o.name].dims], golden.shape);
      const d = maxAbsDiff(single[o.name].data, golden.data as Float32Array);
      assert.ok(d <= manifest.parity_tolerance, `${o.name}: max |diff| ${d} > ${manifest.parity_tolerance}`);
    }
  });

  test(`${name}: a doubled batch gives each item its own result`, async () => {
    const n = x.length;
    const batch = new Float32Array(2 * n);
    batch.set(x.map((v) => -v));
    batch.set(x, n);
    const out = await rt.run(batch, [2 * input.shape[0], ...input.shape.slice(1)]);
    for (const o of manifest.onnx.outputs) {
      const t = out[o.name];
      assert.equal(t.dims[0], 2 * input.shape[0]);
      const per = t.data.length / 2;
      assert.ok(
        maxAbsDiff(t.data.subarray(per), single[o.name].data) < 1e-4,
        `${o.name}: the second half of the batch differs`,
      );
      assert.ok(
        maxAbsDiff(t.data.subarray(0, per), single[o.name].data) > 1e-3,
        `${o.name}: negated input gave the same output`,
      );
    }
  });
}
