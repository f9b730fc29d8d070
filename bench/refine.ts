/**
 * @module
 * `node dist/bench/refine.js [--models DIR] [--model ID] [--data DIR] [--out FILE]`: tunes the
 * level-set refinement (`--refine`, engine/postprocessing/refine.ts) of one model on its training
 * cases and measures the chosen setting once on its validation case (issue 13).
 *
 * Each case runs through the network once (`segment()` with TTA, keeping the model-layout
 * probabilities and level sets); every setting of the grid is then re-run offline with the engine's
 * own `refineLabels` and `labelsToImage` (so keep-largest applies as in `segment()`), and scored
 * against the case's label with the WASM metrics kernel (docs/metrics.md). The choice and the
 * verdict follow the rules fixed in bench/refine-rule.ts. The cases come from the manifest's
 * `provenance.train_cases` and `provenance.validation_case`; the validation case is never looked at
 * before the choice. Writes the tables to `--out` (default bench/results/refine.md).
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readImageFile } from '../engine/cli/files.js';
import type { ImageVolume } from '../engine/io/index.js';
import type { ModelManifest } from '../engine/models/manifest.js';
import { ModelRegistry } from '../engine/models/registry.js';
import { labelsToImage } from '../engine/pipeline/model-layout.js';
import { segment, type RefineStart } from '../engine/pipeline/segment.js';
import { DEFAULT_REFINE, refineLabels, type RefineSettings } from '../engine/postprocessing/refine.js';
import { nodeRuntimeFactory } from '../engine/runtime/node-factory.js';
import type { InferenceRuntime } from '../engine/runtime/runtime.js';
import type { KernelCore } from '../wasm/src/kernel-core.js';
import { binaryMetrics } from '../wasm/src/metrics.js';
import { sharedKernels } from '../wasm/src/node-loader.js';
import { chooseSetting, meanScores, refinementShips, type Scores, type SweepRow } from './refine-rule.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The grid (issue 13): fusion weight x steps x narrow band. The time step stays the kernel's (half
 * the stability bound): N steps at the bound move the front about as far as 2N at half of it, and
 * the steps already span 1 to 10, so a time-step axis would double the sweep for little.
 */
const WEIGHTS = [0, 0.25, 0.5, 0.75, 1];
const ITERATIONS = [0, 1, 2, 5, 10];
const BANDS_VOXELS = [DEFAULT_REFINE.bandVoxels, 6];

function grid(): RefineSettings[] {
  const out: RefineSettings[] = [];
  for (const levelsetWeight of WEIGHTS) {
    for (const iterations of ITERATIONS) {
      // Without steps the band does nothing: one row.
      for (const bandVoxels of iterations === 0 ? [DEFAULT_REFINE.bandVoxels] : BANDS_VOXELS) {
        out.push({ levelsetWeight, iterations, bandVoxels, dtFraction: DEFAULT_REFINE.dtFraction });
      }
    }
  }
  return out;
}

interface Case {
  id: string;
  image: ImageVolume;
  /** One 0/1 mask per foreground label of the manifest. */
  truth: Uint8Array[];
  start: RefineStart;
  unrefined: Scores;
  predictS: number;
}

function foregroundLabels(manifest: ModelManifest): number[] {
  return Object.values(manifest.dataset.labels)
    .filter((l): l is number => typeof l === 'number' && l > 0)
    .sort((a, b) => a - b);
}

/** Dice, ASD and HD95 of `labels` against the case's masks, averaged over the foreground labels. */
function score(core: KernelCore, c: Pick<Case, 'image' | 'truth'>, labels: Uint8Array, fg: number[]): Scores {
  const mask = new Uint8Array(labels.length);
  const per = fg.map((l, k) => {
    for (let i = 0; i < labels.length; i++) mask[i] = labels[i] === l ? 1 : 0;
    const m = binaryMetrics(core, mask, c.truth[k], c.image.shape, c.image.spacing);
    return { dice: m.dice, asd: m.asd_mm, hd95: m.hd95_mm };
  });
  return meanScores(per);
}

/** Runs the network on one case and keeps what refinement starts from. */
async function predictCase(
  core: KernelCore,
  dataDir: string,
  id: string,
  manifest: ModelManifest,
  folds: readonly InferenceRuntime[],
): Promise<Case> {
  const image = await readImageFile(join(dataDir, 'imagesTr', `${id}_0000.nii.gz`));
  const label = await readImageFile(join(dataDir, 'labelsTr', `${id}.nii.gz`));
  const fg = foregroundLabels(manifest);
  const truth = fg.map((l) => Uint8Array.from(label.data, (v) => (v === l ? 1 : 0)));
  const t0 = performance.now();
  const seg = await segment(core, image, manifest, folds, { tta: true, refineInputs: true });
  const predictS = (performance.now() - t0) / 1000;
  const start = seg.refineInputs!;
  // The offline path must reproduce segment()'s own unrefined labels exactly.
  const again = labelsToImage(core, start.labels, start.layout, manifest);
  if (again.some((v, i) => v !== seg.labels[i]))
    throw new Error(`${id}: labelsToImage differs from segment()`);
  return { id, image, truth, start, unrefined: score(core, { image, truth }, seg.labels, fg), predictS };
}

function refined(core: KernelCore, c: Case, manifest: ModelManifest, settings: RefineSettings): Uint8Array {
  const labels = c.start.labels.slice();
  refineLabels(core, labels, c.start.inputs, settings);
  return labelsToImage(core, labels, c.start.layout, manifest);
}

const f = (x: number | null, d: number): string => (x === null ? 'n/a' : x.toFixed(d));
const scoreCells = (s: Scores): string => `${f(s.dice, 4)} | ${f(s.asd, 3)} | ${f(s.hd95, 3)}`;
const settingCells = (s: RefineSettings): string =>
  `${s.levelsetWeight} | ${s.iterations} | ${s.iterations === 0 ? '-' : s.bandVoxels}`;
const same = (a: RefineSettings, b: RefineSettings): boolean =>
  a.levelsetWeight === b.levelsetWeight &&
  a.iterations === b.iterations &&
  a.bandVoxels === b.bandVoxels &&
  a.dtFraction === b.dtFraction;

function usage(): never {
  console.error(
    'usage: node dist/bench/refine.js [--models DIR] [--model ID] [--data DIR] [--out FILE]\n' +
      '  defaults: --models models --model brain-wm-2d --data ../shared/data/brain-wm --out bench/results/refine.md',
  );
  process.exit(2);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        models: { type: 'string', default: join(ROOT, 'models') },
        model: { type: 'string', default: 'brain-wm-2d' },
        data: { type: 'string', default: join(ROOT, '../shared/data/brain-wm') },
        out: { type: 'string', default: join(ROOT, 'bench/results/refine.md') },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    console.error((err as Error).message);
    usage();
  }
  if (args.help) usage();
  const t0 = performance.now();
  const loadBefore = loadavg();
  const core = await sharedKernels();
  const registry = new ModelRegistry(resolve(args.models), nodeRuntimeFactory);
  const model = await registry.load(args.model);
  const manifest = model.manifest;
  const provenance = (manifest.provenance ?? {}) as {
    train_cases?: string[];
    validation_case?: string | null;
  };
  const tuneIds = provenance.train_cases ?? [];
  const evalId = provenance.validation_case;
  if (tuneIds.length === 0 || !evalId || tuneIds.includes(evalId)) {
    throw new Error(
      `${args.model}: the manifest must name its training cases and a validation case that is not one of them`,
    );
  }
  const folds = await registry.runtimes(args.model, 'cpu', { threads: 1 });
  const fg = foregroundLabels(manifest);
  const settings = grid();

  // Tuning: the training cases only, one at a time (each holds a few hundred MB).
  const perSetting: Scores[][] = settings.map(() => []);
  const tuneUnrefined: Scores[] = [];
  const predictTimes: string[] = [];
  for (const id of tuneIds) {
    const c = await predictCase(core, args.data, id, manifest, folds);
    tuneUnrefined.push(c.unrefined);
    predictTimes.push(`${id} ${c.predictS.toFixed(0)} s`);
    const ts = performance.now();
    settings.forEach((s, k) => perSetting[k].push(score(core, c, refined(core, c, manifest, s), fg)));
    const cpu = process.cpuUsage();
    console.error(
      `${id}: predicted in ${c.predictS.toFixed(0)} s, ${settings.length} settings in ${((performance.now() - ts) / 1000).toFixed(0)} s (process CPU so far ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s)`,
    );
  }
  const rows: SweepRow[] = settings.map((s, k) => ({
    settings: s,
    perCase: perSetting[k],
    mean: meanScores(perSetting[k]),
  }));
  const unrefinedMean = meanScores(tuneUnrefined);
  const chosen = chooseSetting(rows, unrefinedMean);

  // The validation case, once: unrefined against the chosen setting.
  console.error(
    `chosen on ${tuneIds.join(', ')}: ${chosen ? settingCells(chosen.settings) : 'none'}; now ${evalId}, once`,
  );
  const v = await predictCase(core, args.data, evalId, manifest, folds);
  predictTimes.push(`${evalId} ${v.predictS.toFixed(0)} s`);
  const evalChosen = chosen ? score(core, v, refined(core, v, manifest, chosen.settings), fg) : null;
  const ships = evalChosen !== null && refinementShips(evalChosen, v.unrefined);
  await registry.dispose();
  const totalS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage();
  const cpuS = (cpu.user + cpu.system) / 1e6;

  const modelsArg = relative(ROOT, resolve(args.models)) || '.';
  const command = `nice -n 10 node dist/bench/refine.js --models ${modelsArg} --model ${args.model}`;
  const tuneHeader = tuneIds.map((id) => `${id} Dice | ${id} ASD | ${id} HD95`).join(' | ');
  const tuneRule = tuneIds.map(() => '--- | --- | ---').join(' | ');
  const mark = (r: SweepRow): string =>
    [
      chosen && same(r.settings, chosen.settings) ? '**chosen**' : '',
      same(r.settings, DEFAULT_REFINE) ? 'engine default' : '',
      r.mean.dice >= unrefinedMean.dice ? '' : 'Dice below unrefined',
    ]
      .filter(Boolean)
      .join(', ');
  const tuneRows = rows
    .map(
      (r) =>
        `| ${settingCells(r.settings)} | ${r.perCase.map(scoreCells).join(' | ')} | ${scoreCells(r.mean)} | ${mark(r)} |`,
    )
    .join('\n');
  const chosenJson = chosen
    ? JSON.stringify({
        levelset_weight: chosen.settings.levelsetWeight,
        iterations: chosen.settings.iterations,
        band_voxels: chosen.settings.bandVoxels,
      })
    : 'none';
  const verdict = ships
    ? `**ships**: on ${evalId} the chosen setting keeps Dice and lowers ASD or HD95. Write it to the manifest as \`inference.refine\` = \`${chosenJson}\` (training/release.py \`--refine '${chosenJson}'\`).`
    : chosen === null
      ? `**goes**: no setting keeps the training cases' mean Dice.`
      : `**goes**: on ${evalId} the chosen setting does not both keep Dice and lower ASD or HD95.`;

  const md = `# Level-set refinement: tuned on the training cases, measured once on the validation case

\`npm run build && ${command}\` on ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores, shared;
load averages ${loadBefore.map((x) => x.toFixed(1)).join(' ')} at the start, ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} at the end), Node ${process.version}, model \`${manifest.id}\` ${manifest.version ?? ''}
(\`${relative(ROOT, model.dir) || model.dir}\`), onnxruntime-node CPU, one thread, TTA on. Whole run ${totalS.toFixed(0)} s
wall, ${cpuS.toFixed(0)} s of CPU (on a loaded machine the CPU time is the figure that carries over;
predictions, wall: ${predictTimes.join(', ')}).

Each case runs through the network once (\`segment()\` keeping its model-layout probabilities and
level sets); every setting is then re-run with the engine's \`refineLabels\` and \`labelsToImage\`
(keep-largest as the manifest says) and scored against the case's label with the WASM metrics kernel
(docs/metrics.md). The rules were fixed before the run (bench/refine-rule.ts): among the settings
whose mean Dice over ${tuneIds.join(' and ')} is not below the unrefined mean Dice, the lowest mean
ASD (ties: lower HD95, higher Dice, fewer steps, lower weight); then that one setting on ${evalId},
once: refinement ships if its Dice is not below the unrefined Dice and its ASD or HD95 is lower.

The fused score is \`s = (1 - w)(2p - 1) + w ls\` (w: the level-set weight), turned into a signed
distance \`tau atanh(s)\` and evolved by mean-curvature flow in a narrow band of half width "band"
voxels, with the kernel's time step, half the explicit scheme's stability bound (wasm/src/levelset.ts;
not swept: N steps at the bound move the front about as far as 2N at half of it).
Weight 0 with 0 steps is the probability thresholded at 0.5, i.e. no refinement.

## Tuning cases (${tuneIds.join(', ')}: the model trained on them)

Unrefined (\`segment()\` without \`--refine\`): ${tuneIds.map((id, k) => `${id} ${scoreCells(tuneUnrefined[k]).replaceAll(' | ', ' / ')}`).join('; ')}; mean ${scoreCells(unrefinedMean).replaceAll(' | ', ' / ')} (Dice / ASD mm / HD95 mm).

| w | steps | band (voxels) | ${tuneHeader} | mean Dice | mean ASD | mean HD95 | |
| --- | --- | --- | ${tuneRule} | --- | --- | --- | --- |
${tuneRows}

## Validation case ${evalId}, once

| run | Dice | ASD (mm) | HD95 (mm) |
| --- | --- | --- | --- |
| unrefined | ${scoreCells(v.unrefined)} |
| chosen: ${chosen ? settingCells(chosen.settings).replaceAll(' | ', ' / ') + ' (w / steps / band)' : 'none'} | ${evalChosen ? scoreCells(evalChosen) : 'n/a | n/a | n/a'} |

Verdict for ${manifest.id} ${manifest.version ?? ''}: ${verdict}
`;
  writeFileSync(args.out, md);
  console.log(md);
}

await main();
