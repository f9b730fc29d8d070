/**
 * @module
 * `node dist/bench/slice-backends.js [--reps N]`: the slice steps after the network, WASM kernels
 * against WGSL kernels (Dawn for Node), on one full sagittal slice of the brain-wm validation volume
 * with `brain-wm-2d` (TTA, probabilities), both in this process. The network is taken out of the
 * timing: its outputs are recorded once on the CPU provider and replayed in call order to both
 * backends, so each measured run is tiling, uploads, TTA mean, accumulation, resampling, argmax,
 * softmax and the read-back. The slice is declared at 0.8 mm in plane so that it is resampled.
 * Prints a Markdown line for docs/gpu-nodes.md; name the adapter it ran on (SwiftShader here).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readImageFile } from '../engine/cli/files.js';
import { gpuSliceBackend } from '../engine/inference/gpu-slice-backend.js';
import { wasmSliceBackend, type SliceBackend, type SliceJob } from '../engine/inference/slice-backend.js';
import { ModelRegistry } from '../engine/models/registry.js';
import { classCount } from '../engine/models/manifest.js';
import { planeOf, type Plane } from '../engine/preprocessing/axes.js';
import { nodeRuntimeFactory } from '../engine/runtime/node-factory.js';
import type { InferenceRuntime, RuntimeTensor } from '../engine/runtime/runtime.js';
import { nodeGpuKernels } from '../engine/runtime/slice-backend-node.js';
import { sharedKernels } from '../wasm/src/node-loader.js';
import { zscoreNormalize } from '../wasm/src/normalize.js';
import { computeNewShape, resampleVolume } from '../wasm/src/resample.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WM = 'brain-wm-2d';
const { values: v } = parseArgs({ options: { reps: { type: 'string', default: '5' } } });

/** Replays recorded outputs in call order: the backends make the same calls in the same order. */
class Replay implements InferenceRuntime {
  readonly outputs: Record<string, RuntimeTensor>[] = [];
  private next = 0;
  constructor(readonly inner: InferenceRuntime) {}
  get info(): InferenceRuntime['info'] {
    return this.inner.info;
  }
  get inputName(): string {
    return this.inner.inputName;
  }
  get outputNames(): readonly string[] {
    return this.inner.outputNames;
  }
  async run(input: Float32Array, dims: readonly number[]): Promise<Record<string, RuntimeTensor>> {
    if (this.outputs.length < this.next + 1) this.outputs.push(await this.inner.run(input, dims));
    return this.outputs[this.next++];
  }
  rewind(): void {
    this.next = 0;
  }
  dispose(): Promise<void> {
    return this.inner.dispose();
  }
}

const core = await sharedKernels();
const registry = new ModelRegistry(`${ROOT}models`, nodeRuntimeFactory);
const manifest = (await registry.load(WM)).manifest;
const [cpu] = await registry.runtimes(WM, 'cpu');
const replay = new Replay(cpu);
const CASE = (
  JSON.parse(readFileSync(`${ROOT}models/${WM}/manifest.json`, 'utf8')) as {
    metrics: { validation_case: string };
  }
).metrics.validation_case;
const image = await readImageFile(`${ROOT}../shared/data/brain-wm/imagesTr/${CASE}_0000.nii.gz`);
const [nx, ny, nz] = image.shape;
const crop: Plane = { rows: nz, cols: ny };
const x = Math.floor(nx / 2) - 20;
const raw = new Float32Array(ny * nz);
for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) raw[z * ny + y] = image.data[(z * ny + y) * nx + x];
const inPlaneMm = 0.8;
const [cols, rows] = computeNewShape([crop.cols, crop.rows, 1], [inPlaneMm, inPlaneMm, 1], [1, 1, 1]);
const model: Plane = { rows, cols };
const slice = resampleVolume(core, zscoreNormalize(core, raw), [crop.cols, crop.rows, 1], [cols, rows, 1], {
  order: 3,
});

const classes = classCount(manifest);
const job: SliceJob = {
  core,
  folds: [replay],
  predictor: {
    patch: planeOf(manifest.plans.patch_size),
    outputs: ['logits'],
    outputChannels: [classes],
    mirrorAxes: manifest.inference.mirroring_axes,
    batch: manifest.plans.batch_size,
    tileStep: manifest.inference.tile_step_size,
  },
  output: { classes, from: model, to: crop, order: 1, probabilities: true },
};

async function time(backend: SliceBackend): Promise<{ ms: number; labels: Uint8Array }> {
  const runner = backend.open(job);
  replay.rewind();
  let labels = (await runner.run(slice)).labels; // warm-up (and, the first time, the recording)
  const times: number[] = [];
  for (let r = 0; r < Number(v.reps); r++) {
    replay.rewind();
    const t = performance.now();
    labels = (await runner.run(slice)).labels;
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { ms: times[times.length >> 1], labels };
}

const found = await nodeGpuKernels();
if (!found.kernels) throw new Error(found.reason);
const wasm = await time(wasmSliceBackend());
const gpu = await time(gpuSliceBackend(found.kernels, found.adapter));
let same = 0;
for (let i = 0; i < wasm.labels.length; i++) same += wasm.labels[i] === gpu.labels[i] ? 1 : 0;
console.log(
  `| ${WM}, ${CASE} sagittal slice ${crop.rows}x${crop.cols} -> ${rows}x${cols}, ${replay.outputs.length} network calls replayed (TTA, probabilities) | ` +
    `${wasm.ms.toFixed(1)} ms | ${gpu.ms.toFixed(1)} ms | ${(gpu.ms / wasm.ms).toFixed(2)} | ${same}/${wasm.labels.length} | ${found.adapter} |`,
);
await registry.dispose();
