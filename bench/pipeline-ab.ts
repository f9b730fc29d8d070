/**
 * @module
 * `node dist/bench/pipeline-ab.js <baseline-root>`: this tree's `segment()` against a baseline
 * tree's (another commit's checkout, built with `npm run build`), alternately in one process, on the
 * same input with the same model session, so that load on a shared machine hits both alike. The
 * model time is the same session's for both; what differs is the pipeline around it, so the figure
 * that matters is the overhead (segment minus model time) and the ratio of the two totals.
 * Writes bench/results/pipeline-ab.md.
 *
 * Input: a slab of `slices` sagittal slices of the brain-wm validation case fsA (the model's own
 * axis), with TTA, and with the same slab at 0.7 mm in-plane spacing so the plane is resampled both
 * ways; labels of the two trees must be identical.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readImageFile } from '../engine/cli/files.js';
import { cropGeometry, type ImageVolume } from '../engine/io/index.js';
import { checkManifest, type ModelManifest } from '../engine/models/manifest.js';
import { createOrtNodeCpu } from '../engine/runtime/ort-node.js';
import type { InferenceRuntime } from '../engine/runtime/runtime.js';
import { cropVolume } from '../wasm/src/crop.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODEL_DIR = `${ROOT}models/brain-wm-2d/`;
const VOLUME = `${ROOT}../shared/data/brain-wm/imagesTr/fsA_0000.nii.gz`;
const SLICES = 16;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

type SegmentFn = (
  core: unknown,
  image: ImageVolume,
  manifest: ModelManifest,
  folds: readonly InferenceRuntime[],
  options: { tta?: boolean },
) => Promise<{ labels: Uint8Array; timings: { totalMs: number; modelMs: number } }>;

interface Tree {
  name: string;
  segment: SegmentFn;
  core: unknown;
}

async function loadTree(root: string, name: string): Promise<Tree> {
  const dist = (p: string): string => pathToFileURL(join(root, 'dist', p)).href;
  const { segment } = (await import(dist('engine/pipeline/segment.js'))) as { segment: SegmentFn };
  const { loadKernelsForNode } = (await import(dist('wasm/src/node-loader.js'))) as {
    loadKernelsForNode: () => Promise<unknown>;
  };
  return { name, segment, core: await loadKernelsForNode() };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function commitOf(root: string): string {
  try {
    return execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const baseRoot = process.argv[2];
  if (!baseRoot) {
    console.error(
      'usage: node dist/bench/pipeline-ab.js <baseline-root>  (a built checkout of another commit)',
    );
    process.exit(2);
  }
  const manifest = checkManifest(JSON.parse(readFileSync(`${MODEL_DIR}manifest.json`, 'utf8')), MODEL_DIR);
  const runtime = await createOrtNodeCpu(new Uint8Array(readFileSync(`${MODEL_DIR}model.onnx`)), {
    threads: 1,
  });
  const trees = [await loadTree(resolve(baseRoot), 'baseline'), await loadTree(ROOT, 'this tree')];

  const full = await readImageFile(VOLUME);
  const x0 = Math.floor(full.shape[0] / 2) - SLICES / 2;
  const box = {
    start: [x0, 0, 0] as [number, number, number],
    end: [x0 + SLICES, full.shape[1], full.shape[2]] as [number, number, number],
  };
  const geo = cropGeometry(full, box);
  const data = cropVolume(full.data, full.shape, box);
  const slab: ImageVolume = { ...full, ...geo, data };
  const inputs: [string, ImageVolume][] = [
    [`fsA slab ${geo.shape.join('x')}, 1 mm, TTA`, slab],
    [`same slab at 0.7 mm in-plane (resampled both ways), TTA`, { ...slab, spacing: [1, 0.7, 0.7] }],
  ];

  const rows: string[] = [];
  for (const [what, image] of inputs) {
    const totals: number[][] = [[], []];
    const overheads: number[][] = [[], []];
    let labels: Uint8Array[] = [];
    for (let r = 0; r <= RUNS; r++) {
      labels = [];
      // Who goes first alternates, so that garbage one tree leaves is not always collected during the other's run.
      const order = r % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) {
        const tree = trees[i];
        const out = await tree.segment(tree.core, image, manifest, [runtime], { tta: true });
        labels[i] = out.labels;
        if (r === 0) continue; // warm-up
        totals[i].push(out.timings.totalMs);
        overheads[i].push(out.timings.totalMs - out.timings.modelMs);
      }
    }
    const differ = labels[0].reduce((n, v, j) => n + (v !== labels[1][j] ? 1 : 0), 0);
    const [tb, tn] = totals.map(median);
    const [ob, on] = overheads.map(median);
    rows.push(
      `| ${what} | ${(tb / 1000).toFixed(2)} | ${(tn / 1000).toFixed(2)} | ${(tn / tb).toFixed(3)} | ` +
        `${ob.toFixed(0)} | ${on.toFixed(0)} | ${(on / ob).toFixed(3)} | ${differ} of ${labels[0].length} |`,
    );
    console.log(rows[rows.length - 1]);
  }
  await runtime.dispose();

  const md = `# Pipeline A/B: this tree against a baseline, in one process

\`npm run build && node dist/bench/pipeline-ab.js <baseline checkout>\` on ${cpus()[0]?.model ?? 'unknown CPU'}
(${cpus().length} cores, shared), Node ${process.version}, model \`brain-wm-2d\` on onnxruntime-node CPU (one
session, one thread, shared by both trees). Baseline commit \`${commitOf(resolve(baseRoot))}\`, this tree
\`${commitOf(ROOT)}\`. Medians of ${RUNS} runs each after one warm-up, the order of the two trees alternating.

| input | baseline (s) | this tree (s) | ratio | baseline overhead (ms) | this tree overhead (ms) | overhead ratio | labels differing |
| --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

"Overhead" is \`segment()\` minus the model's own \`run\` time: the pipeline around the network
(crop, normalise, resample, tiling, TTA flips, accumulation, softmax/argmax, uncrop, statistics).
`;
  writeFileSync(`${ROOT}bench/results/pipeline-ab.md`, md);
}

await main();
