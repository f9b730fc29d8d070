/**
 * @module
 * `npm run bench:gpu` (`node dist/bench/gpu.js [options]`): the onnxruntime-node WebGPU provider
 * against its CPU provider, both in this process (the CPU run is the baseline every ratio is taken
 * against), on
 * - `brain-wm-2d` segmenting its validation volume (or a centred crop of it) with the full pipeline,
 *   labels compared voxel by voxel;
 * - `nnsam-tinyvit-random` (the full nnSAM graph: TinyViT at 1024x1024 + U-Net) on real 128x128
 *   patches of the same volume, argmax labels and logits compared.
 * Writes bench/results/gpu.md (or `--out`). Exits 1 when the WebGPU provider fell back to the CPU:
 * a fallback run measures nothing. Needs no npm registry: see docs/gpu-bench.md for the payload.
 *
 * Options: --slices N (sagittal slices around the middle; 0 = all), --inplane N (centred in-plane
 * crop; 0 = all), --no-tta, --no-warmup (no untimed first call), --nnsam-patches N, --threads N (CPU provider; default: all cores),
 * --label TEXT (what ran it, written into the report), --out FILE.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readImageFile } from '../engine/cli/files.js';
import { cropGeometry, type ImageVolume } from '../engine/io/index.js';
import { ModelRegistry, type RuntimeFactory } from '../engine/models/registry.js';
import { segment } from '../engine/pipeline/segment.js';
import { probeGpuAdapter } from '../engine/runtime/gpu-adapter.js';
import { createOrtNodeCpu, createOrtNodeWebGpu } from '../engine/runtime/ort-node.js';
import type { Device, InferenceRuntime } from '../engine/runtime/runtime.js';
import { nodeSliceBackend } from '../engine/runtime/slice-backend-node.js';
import { cropVolume } from '../wasm/src/crop.js';
import { sharedKernels } from '../wasm/src/node-loader.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WM = 'brain-wm-2d';
const NNSAM = 'nnsam-tinyvit-random';

const { values: v } = parseArgs({
  options: {
    slices: { type: 'string', default: '0' },
    inplane: { type: 'string', default: '0' },
    'no-tta': { type: 'boolean', default: false },
    'no-warmup': { type: 'boolean', default: false },
    'nnsam-patches': { type: 'string', default: '16' },
    threads: { type: 'string', default: String(availableParallelism()) },
    label: { type: 'string', default: 'unlabelled run' },
    out: { type: 'string', default: `${ROOT}bench/results/gpu.md` },
  },
});
const threads = Number(v.threads);
const tta = !v['no-tta'];

// onnxruntime-node only (no onnxruntime-web): the payload carried to a GPU machine stays small.
const factory: RuntimeFactory = (model, device, options) =>
  device === 'webgpu' ? createOrtNodeWebGpu(model, options) : createOrtNodeCpu(model, options);
const registry = new ModelRegistry(`${ROOT}models`, factory);

const wmManifest = JSON.parse(readFileSync(`${ROOT}models/${WM}/manifest.json`, 'utf8')) as {
  metrics: { validation_case: string };
};
const CASE = wmManifest.metrics.validation_case;
const VOLUME = `${ROOT}../shared/data/brain-wm/imagesTr/${CASE}_0000.nii.gz`;

/** The volume, cut to `slices` sagittal slices and a centred `inplane`^2 square (0: whole axis). */
async function input(): Promise<ImageVolume> {
  const full = await readImageFile(VOLUME);
  const cut = (axis: number, n: number): [number, number] => {
    const size = full.shape[axis];
    if (!n || n >= size) return [0, size];
    const s = Math.floor((size - n) / 2);
    return [s, s + n];
  };
  const [x, y, z] = [cut(0, Number(v.slices)), cut(1, Number(v.inplane)), cut(2, Number(v.inplane))];
  const box = { start: [x[0], y[0], z[0]] as const, end: [x[1], y[1], z[1]] as const };
  if (box.end.every((e, i) => e === full.shape[i]) && box.start.every((s) => s === 0)) return full;
  const b = {
    start: [...box.start] as [number, number, number],
    end: [...box.end] as [number, number, number],
  };
  const geo = cropGeometry(full, b);
  return { ...full, ...geo, data: cropVolume(full.data, full.shape, b) };
}

interface Side {
  createMs: number;
  firstCallMs: number;
  runMs: number;
  provider: string;
  fallback?: string;
}

async function runtimesFor(
  model: string,
  device: Device,
  patch: number[],
): Promise<[InferenceRuntime[], Side]> {
  let t = performance.now();
  const folds = await registry.runtimes(model, device, {
    threads,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  const createMs = performance.now() - t;
  t = performance.now();
  // One call first (shader compilation), unless --no-warmup: then the timed run includes it.
  if (!v['no-warmup']) await folds[0].run(new Float32Array(patch[0] * patch[1]), [1, 1, patch[0], patch[1]]);
  const side = {
    createMs,
    firstCallMs: performance.now() - t,
    runMs: 0,
    provider: folds[0].info.provider,
    fallback: folds[0].info.fallbackReason,
  };
  return [folds, side];
}

function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) same += a[i] === b[i] ? 1 : 0;
  return same / a.length;
}

async function volumeBench(image: ImageVolume) {
  const model = await registry.load(WM);
  const patch = model.manifest.plans.patch_size;
  const k = await sharedKernels();
  type Run = { side: Side; labels: Uint8Array; calls: number; slices: string };
  const out = {} as { cpu: Run; webgpu: Run };
  for (const device of ['cpu', 'webgpu'] as const) {
    const [folds, side] = await runtimesFor(WM, device, patch);
    const t = performance.now();
    // As `segment --device` runs: on WebGPU the slice steps go to the WGSL kernels when they can.
    const slices = await nodeSliceBackend(folds[0].info);
    const r = await segment(k, image, model.manifest, folds, { tta, slices });
    side.runMs = performance.now() - t;
    out[device] = { side, labels: r.labels, calls: r.timings.modelCalls, slices: r.slices.kind };
    process.stderr.write(`bench:gpu ${WM} ${device}: ${(side.runMs / 1000).toFixed(1)} s\n`);
  }
  return { ...out, agreement: agreement(out.cpu.labels, out.webgpu.labels) };
}

/** `n` real 128x128 patches of the volume's middle sagittal slice, z-scored over the brain, along a grid. */
function patches(image: ImageVolume, n: number, p: number): Float32Array[] {
  const [nx, ny, nz] = image.shape;
  const x = nx >> 1;
  const plane = new Float32Array(ny * nz);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++) plane[y + ny * z] = image.data[x + nx * (y + ny * z)];
  let s = 0;
  let s2 = 0;
  let c = 0;
  for (const q of plane) {
    if (q <= 0) continue;
    s += q;
    s2 += q * q;
    c++;
  }
  const mean = s / c;
  const std = Math.sqrt(s2 / c - mean * mean) || 1;
  const out: Float32Array[] = [];
  const stepY = Math.max(1, Math.floor((ny - p) / 3));
  const stepZ = Math.max(1, Math.floor((nz - p) / 3));
  for (let i = 0; out.length < n; i++) {
    const y0 = Math.min(ny - p, (i % 4) * stepY);
    const z0 = Math.min(nz - p, (Math.floor(i / 4) % 4) * stepZ);
    const t = new Float32Array(p * p);
    for (let a = 0; a < p; a++)
      for (let b = 0; b < p; b++) t[b + p * a] = (plane[y0 + b + ny * (z0 + a)] - mean) / std;
    out.push(t);
  }
  return out;
}

async function nnsamBench(image: ImageVolume, n: number) {
  const p = (await registry.load(NNSAM)).manifest.plans.patch_size[0];
  const xs = patches(image, n, p);
  const logits: Record<string, Float32Array[]> = {};
  const sides: Record<string, Side> = {};
  for (const device of ['cpu', 'webgpu'] as const) {
    const [folds, side] = await runtimesFor(NNSAM, device, [p, p]);
    logits[device] = [];
    const t = performance.now();
    for (const x of xs) logits[device].push((await folds[0].run(x, [1, 1, p, p])).logits.data);
    side.runMs = performance.now() - t;
    sides[device] = side;
    process.stderr.write(
      `bench:gpu ${NNSAM} ${device}: ${(side.runMs / 1000).toFixed(1)} s for ${n} patches\n`,
    );
  }
  let same = 0;
  let total = 0;
  let maxDiff = 0;
  for (let i = 0; i < n; i++) {
    const [a, b] = [logits.cpu[i], logits.webgpu[i]];
    const hw = a.length / 2;
    for (let j = 0; j < hw; j++) {
      same += a[j + hw] > a[j] === b[j + hw] > b[j] ? 1 : 0;
      total++;
    }
    for (let j = 0; j < a.length; j++) maxDiff = Math.max(maxDiff, Math.abs(a[j] - b[j]));
  }
  return { cpu: sides.cpu, webgpu: sides.webgpu, agreement: same / total, maxDiff };
}

const s = (ms: number): string => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);

const adapter = await probeGpuAdapter();
const image = await input();
const wm = await volumeBench(image);
const nPatches = Number(v['nnsam-patches']);
const sam = nPatches > 0 ? await nnsamBench(image, nPatches) : null;
const fellBack = [wm.webgpu.side, ...(sam ? [sam.webgpu] : [])].find(
  (x) => x.provider !== 'webgpu' || x.fallback,
);

const row = (what: string, cpu: Side, gpu: Side, agree: string, extra: string): string =>
  `| ${what} | ${s(cpu.runMs)} | ${s(gpu.runMs)} | ${(cpu.runMs / gpu.runMs).toFixed(3)} | ${agree} | ${s(cpu.createMs + cpu.firstCallMs)} / ${s(gpu.createMs + gpu.firstCallMs)} | ${extra} |`;
const lines = [
  '# WebGPU vs CPU provider (`npm run bench:gpu`)',
  '',
  `Run: **${v.label}**. ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, onnxruntime-node (both providers in one process; the CPU provider with ${threads} intra-op threads is the baseline).`,
  '',
  `WebGPU adapter (Dawn for Node, same Vulkan drivers as onnxruntime's Dawn): ${
    adapter.adapter
      ? `${adapter.adapter.description} (vendor \`${adapter.adapter.vendor}\`, architecture \`${adapter.adapter.architecture}\`${adapter.adapter.fallback_adapter ? ', a software fallback adapter' : ''})`
      : `none (${adapter.error})`
  }; \`VK_ICD_FILENAMES\`=${process.env.VK_ICD_FILENAMES ?? '(unset)'}.`,
  '',
  `${v['no-warmup'] ? 'No warm-up call: the timed runs include shader compilation and session warm-up.' : 'Each provider made one untimed call first (in the last column), so the timed runs exclude shader compilation.'}`,
  '',
  `Inputs: ${WM} on its validation case ${CASE}, shape ${image.shape.join('x')}${tta ? ', mirroring TTA' : ', no TTA'}; ${NNSAM} on ${nPatches} real ${sam ? '128x128 ' : ''}patches of the same volume's middle sagittal slice, batch 1.`,
  '',
  '| what | CPU s | WebGPU s | speed-up (CPU / WebGPU) | label agreement | session + first call s (CPU / WebGPU) | notes |',
  '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
  row(
    `${WM} segment (${wm.cpu.calls} model calls)`,
    wm.cpu.side,
    wm.webgpu.side,
    `${(100 * wm.agreement).toFixed(3)} % of ${wm.cpu.labels.length} voxels`,
    `whole pipeline; slice steps after the network on ${wm.cpu.slices} (CPU run) / ${wm.webgpu.slices} (WebGPU run)`,
  ),
  ...(sam
    ? [
        row(
          `${NNSAM}, ${nPatches} patches`,
          sam.cpu,
          sam.webgpu,
          `${(100 * sam.agreement).toFixed(3)} % of pixels (argmax)`,
          `max abs logit diff ${sam.maxDiff.toExponential(2)}; ${s(sam.cpu.runMs / nPatches)} / ${s(sam.webgpu.runMs / nPatches)} s per patch`,
        ),
      ]
    : []),
  '',
  fellBack
    ? `**The WebGPU provider fell back to the CPU (${fellBack.fallback ?? fellBack.provider}): these numbers measure nothing.**`
    : 'Both models ran on the WebGPU provider (no fallback).',
  '',
];
mkdirSync(dirname(v.out!), { recursive: true });
writeFileSync(v.out!, lines.join('\n'));
process.stdout.write(lines.join('\n'));
await registry.dispose();
process.exit(fellBack ? 1 : 0);
