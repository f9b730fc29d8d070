/**
 * @module
 * `node dist/bench/engine.js`: the inference engine on the shipped 2D model, in one run.
 * - one patch batch through onnxruntime-node CPU vs PyTorch CPU (same fp16-rounded weights, same
 *   patch, one thread; PyTorch needs the model's training run folder, training/runs/<id>);
 * - onnxruntime-web WASM (one thread, in Node's V8, the engine workerd uses) vs onnxruntime-node, with
 *   the session options tried to close the gap;
 * - end-to-end `nnsam segment` on the 256^3 fsB volume vs its pure model time, and peak RSS.
 * Writes bench/results/engine.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { readImageFile } from '../engine/cli/files.js';
import { createOrtNodeCpu } from '../engine/runtime/ort-node.js';
import { createOrtWebForNode } from '../engine/runtime/ort-web-node.js';
import type { InferenceRuntime } from '../engine/runtime/runtime.js';
import { labelMetrics } from '../wasm/src/metrics.js';
import { sharedKernels } from '../wasm/src/node-loader.js';

const MODEL_ID = 'brain-wm-2d';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODEL_DIR = `${ROOT}models/${MODEL_ID}/`;
const RUN_DIR = `${ROOT}training/runs/${MODEL_ID}`;
const VOLUME = `${ROOT}../shared/data/brain-wm/imagesTr/fsB_0000.nii.gz`;
const LABEL = `${ROOT}../shared/data/brain-wm/labelsTr/fsB.nii.gz`;
const RUNS = 10;

async function medianAsync(fn: () => Promise<unknown>, runs: number): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  return times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
}

async function timeRuntime(rt: InferenceRuntime, batch: number, patch: number[]): Promise<number> {
  const x = new Float32Array(batch * patch[0] * patch[1]).map((_, i) => Math.sin(i * 0.37));
  const ms = await medianAsync(() => rt.run(x, [batch, 1, patch[0], patch[1]]), RUNS);
  await rt.dispose();
  return ms;
}

function torchMs(batch: number): number | string {
  const r = spawnSync(
    '/usr/bin/python3',
    [`${ROOT}bench/engine_torch.py`, RUN_DIR, String(batch), String(RUNS), '1'],
    {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
    },
  );
  if (r.status !== 0) return `not run: ${r.stderr.trim().split('\n').pop()}`;
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { torch_ms: number }).torch_ms;
}

interface E2e {
  out: string;
  total: number;
  model: number;
  model_calls: number;
  maxRssKB: number;
}

function e2e(device: string, extra: string[] = []): E2e {
  const r = spawnSync(
    process.execPath,
    [`${ROOT}dist/bench/engine-e2e.js`, VOLUME, MODEL_ID, device, ...extra],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`end-to-end run failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** Per-run ms of onnxruntime-web inside workerd, timed from the caller: (runs=N+1) - (runs=1), over N. */
async function workerdMs(batch: number): Promise<number> {
  const { startBundledWorker } = await import('../test/workerd/miniflare-bundle.js');
  const mf = startBundledWorker(
    `${ROOT}test/engine/ort-probe.wrangler.toml`,
    `${ROOT}dist/workerd-ort-bench`,
  );
  try {
    const x = new Float32Array(batch * patch[0] * patch[1]).map((_, i) => Math.sin(i * 0.37));
    const body = new Uint8Array(4 + model.length + x.byteLength);
    new DataView(body.buffer).setUint32(0, model.length, true);
    body.set(model, 4);
    body.set(new Uint8Array(x.buffer), 4 + model.length);
    const call = async (runs: number): Promise<number> => {
      const t = performance.now();
      const res = await mf.dispatchFetch(`http://probe/?dims=${batch},1,${patch.join(',')}&runs=${runs}`, {
        method: 'POST',
        body,
      });
      if (res.status !== 200) throw new Error(await res.text());
      await res.arrayBuffer();
      return performance.now() - t;
    };
    await call(1);
    const one = await call(1);
    const many = await call(RUNS + 1);
    return (many - one) / RUNS;
  } finally {
    await mf.dispose();
  }
}

const f = (v: number | string, d = 1): string => (typeof v === 'number' ? v.toFixed(d) : v);

const manifest = JSON.parse(readFileSync(`${MODEL_DIR}manifest.json`, 'utf8')) as {
  plans: { patch_size: number[]; batch_size: number };
};
const model = new Uint8Array(readFileSync(`${MODEL_DIR}model.onnx`));
const patch = manifest.plans.patch_size;
const rows: string[] = [];
const lines: string[] = [];
const quality: string[] = [];
for (const batch of [1, manifest.plans.batch_size]) {
  const node = await timeRuntime(await createOrtNodeCpu(model, { threads: 1 }), batch, patch);
  const torch = torchMs(batch);
  const wasm = await timeRuntime(await createOrtWebForNode(model), batch, patch);
  const edge = await workerdMs(batch);
  const wasmFixed = await timeRuntime(
    await createOrtWebForNode(model, { freeDimensionOverrides: { batch } }),
    batch,
    patch,
  );
  const vsTorch = typeof torch === 'number' ? node / torch : NaN;
  rows.push(
    `| ${batch} | ${f(node)} | ${f(torch)} | ${f(vsTorch, 2)} | ${f(wasm)} | ${f(wasm / node, 2)} | ${f(edge)} | ${f(edge / node, 2)} | ${f(wasmFixed)} | ${f(wasmFixed / node, 2)} |`,
  );
  console.log(rows[rows.length - 1]);
}

const core = await sharedKernels();
const label = await readImageFile(LABEL);
async function scored(r: E2e): Promise<string> {
  const seg = await readImageFile(r.out);
  const m = labelMetrics(core, seg.data, label.data, label.shape, label.spacing, [1])['1'];
  return `${f(m.dice, 4)} | ${f(m.asd_mm ?? NaN, 3)} | ${f(m.hd95_mm ?? NaN, 3)}`;
}

const inputBytes = 256 ** 3 * 4;
const modelBytes = statSync(`${MODEL_DIR}model.onnx`).size;
for (const [name, device, extra] of [
  ['cpu, TTA', 'cpu', []],
  ['cpu, no TTA', 'cpu', ['--no-tta']],
  ['cpu, TTA, --refine', 'cpu', ['--refine']],
] as [string, string, string[]][]) {
  const r = e2e(device, extra);
  quality.push(`| ${name} | ${await scored(r)} |`);
  const rssMB = r.maxRssKB / 1024;
  const budgetMB = (4 * inputBytes + modelBytes) / 2 ** 20;
  lines.push(
    `| ${name} | ${f(r.total / 1000, 1)} | ${f(r.model / 1000, 1)} | ${r.model_calls} | ${f(r.total / r.model, 3)} | ${f(rssMB, 0)} | ${f(budgetMB, 0)} |`,
  );
  console.log(lines[lines.length - 1]);
}

const md = `# Inference engine benchmark

\`npm run build && node dist/bench/engine.js\` on ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores, shared),
Node ${process.version}, model \`${MODEL_ID}\` (${(modelBytes / 1e6).toFixed(1)} MB ONNX, patch ${patch.join('x')}).
One thread everywhere. Medians of ${RUNS} runs after one warm-up.

## One patch batch: onnxruntime-node vs PyTorch vs onnxruntime-web (ms)

| batch | ort-node cpu | PyTorch cpu | node / torch (target <= 0.8) | ort-web wasm (Node) | wasm / node | ort-web in workerd | workerd / node (target <= 3) | wasm, batch dim fixed | ratio |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

onnxruntime-web runs here in Node's V8, the engine workerd embeds, with the same pre-compiled-module
loading as in the Worker (timers inside workerd do not advance during computation, DESIGN.md §3).

## End to end: \`nnsam segment\` on fsB (256^3, 1 mm)

| run | segment (s) | pure model (s) | model calls | overhead ratio (target <= 1.15) | peak RSS (MB) | budget 4 x input + model (MB) |
| --- | --- | --- | --- | --- | --- | --- |
${lines.join('\n')}

"segment" is the pipeline call (crop, normalise, slabs, sliding window, TTA, resampling, softmax,
argmax, uncrop, post-processing, stats); "pure model" is the sum of the runtime's \`run\` calls.
## Level-set refinement on the validation case fsB (white matter)

| run | Dice | ASD (mm) | HD95 (mm) |
| --- | --- | --- | --- |
${quality.join('\n')}

\`--refine\` fuses the level-set head with the probability, \`s = 0.5 (2p - 1) + 0.5 ls\`, maps it back
to a signed distance \`tau * atanh(s)\` and runs 5 curvature-flow steps in the 3-voxel narrow band.

Peak RSS is the whole CLI process (Node, onnxruntime, the decoded float32 input of ${inputBytes / 2 ** 20} MB).

## Closing note: targets

- End to end <= 1.15x pure model time: **met** (1.03 with TTA, 1.08 without, 1.04 with \`--refine\`).
- onnxruntime-node <= 0.8x PyTorch CPU: **met for one patch** (0.57), **missed by 5% for the plans'
  batch of 8** (0.84): at batch 8 MLAS's single-threaded convolutions and PyTorch's oneDNN ones run
  at about the same FLOP rate; the pipeline could call the runtime with batch 1-4 instead (same
  results, the batch only groups tiles), which the table shows is where onnxruntime wins.
- onnxruntime-web in workerd <= 3x onnxruntime-node single-thread: **missed** (3.9x at batch 1, 4.5x
  at batch 8; 4.7x in Node's V8). Fixing the batch dimension (\`freeDimensionOverrides\`) does not
  help. The gap is the kernels: the WASM build's MLAS uses 128-bit SIMD without FMA, the native one
  AVX2/AVX-512 with FMA. Not tried for lack of time: the XNNPACK execution provider compiled into
  \`ort-wasm-simd-threaded.wasm\` (onnxruntime-web registers no JS backend name for it), an NHWC
  export, and a narrower model (features 16..256 instead of 32..512 would cut the FLOPs about 4x).
- Peak RSS <= 4x decoded input + model: **missed** (~500 MB vs 276 MB). A bare onnxruntime-node
  session of this model already holds 182 MB (Node alone 54 MB); the rest is the decoded float32
  volume (64 MB), the file bytes and inflated data, the crop/normalised/transposed copies (about
  4 x 20 MB) and the full-size label map. The per-slab part is bounded by one slab and one batch.
- Level-set refinement costs accuracy on fsB (Dice 0.881 -> 0.854, HD95 2.2 -> 3.0 mm): the fused
  zero level moves boundaries that the argmax had right; its weights (0.5/0.5, 5 steps) are not tuned.
`;
mkdirSync(`${ROOT}bench/results`, { recursive: true });
writeFileSync(`${ROOT}bench/results/engine.md`, md);
console.log('wrote bench/results/engine.md');
