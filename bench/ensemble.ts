/**
 * @module
 * `node dist/bench/ensemble.js`: what an ensemble release costs (docs/model-versions.md, "Ensembles"):
 * `nnsam segment` on fsA (256^3, fp32, TTA) with brain-wm-2d@2.1.0 (two folds) against its member
 * brain-wm-2d@1.2.0, each run in its own process (bench/engine-e2e.ts), the two alternating so that
 * both see the same machine. Writes bench/results/ensemble.md.
 */
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelRegistry } from '../engine/models/registry.js';
import { modelFiles } from '../engine/models/manifest.js';
import { nodeRuntimeFactory } from '../engine/runtime/node-factory.js';
import { loadAverages, median } from './proc-cpu.js';
import { segmentRun, type SegmentRun } from './segment-run.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VOLUME = join(ROOT, '../shared/data/brain-wm/imagesTr/fsA_0000.nii.gz');
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
const MODELS = ['brain-wm-2d@1.2.0', 'brain-wm-2d@2.1.0'];

const registry = new ModelRegistry(join(ROOT, 'models'), nodeRuntimeFactory);
const weightBytes: number[] = [];
for (const m of MODELS) {
  const model = await registry.load(m);
  weightBytes.push(modelFiles(model.manifest).reduce((s, f) => s + statSync(join(model.dir, f)).size, 0));
}
const loadBefore = loadAverages();
const runs: SegmentRun[][] = MODELS.map(() => []);
for (let r = 0; r < RUNS; r++) {
  const order = r % 2 ? [1, 0] : [0, 1];
  for (const i of order) {
    runs[i].push(segmentRun(VOLUME, MODELS[i], 'cpu'));
    console.error(`${MODELS[i]}: ${JSON.stringify(runs[i].at(-1))}`);
  }
}
const loadAfter = loadAverages();
const inputBytes = 256 ** 3 * 4;
const f = (x: number, d = 1) => x.toFixed(d);
const rows = MODELS.map((m, i) => {
  const total = median(runs[i].map((x) => x.total)) / 1000;
  const model = median(runs[i].map((x) => x.model)) / 1000;
  const rss = Math.max(...runs[i].map((x) => x.maxRssKB)) / 1024;
  const budget = (4 * inputBytes + weightBytes[i]) / 2 ** 20;
  const ratio = total / (median(runs[0].map((x) => x.total)) / 1000);
  return `| ${m} | ${runs[i][0].model_calls} | ${f(total)} | ${f(model)} | ${f(ratio, 2)} | ${f(rss, 0)} | ${f(budget, 0)} |`;
});
const text = [
  '# Ensemble cost: brain-wm-2d@2.1.0 (1.2.0 + 2.0.0 as two folds) against 1.2.0',
  '',
  `\`node dist/bench/ensemble.js\`: \`nnsam segment\` on fsA (256^3 uint8, 1 mm), fp32, TTA, one thread, CPU;`,
  `each run in its own process, the two releases alternating, ${RUNS} runs each (median times, largest peak).`,
  "Peak RSS is the process's VmHWM. The budget is issue 14's: 4x the volume decoded to float32 + the",
  "release's fp32 weights (both folds' for the ensemble).",
  `Load averages ${loadBefore} at the start, ${loadAfter} at the end.`,
  '',
  '| release | model calls | segment (s) | pure model (s) | time vs 1.2.0 | peak RSS (MB) | budget (MB) |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows,
  '',
].join('\n');
console.log(text);
writeFileSync(join(ROOT, 'bench/results/ensemble.md'), text);
await registry.dispose();
