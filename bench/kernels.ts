/**
 * @module
 * `npm run bench`: every WASM kernel on a 256^3 brain volume from ../shared/data, against the
 * scipy / scikit-image / numpy call nnU-Net makes (timed by /usr/bin/python3 on the same volumes) and
 * a plain-TypeScript version. Single-threaded. Each kernel's runs alternate with the reference's, so
 * both see the same machine load. With no arguments it times every kernel in this process, then each
 * kernel again alone in a fresh process (no plain runs), and writes both ratios to
 * bench/results/kernels.md; with case keys it prints the table for those only.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { relaunchWithHugePages, withHugePages } from '../engine/dev/huge-pages.js';
import { readImage } from '../engine/io/index.js';
import { keepLargestComponent, labelComponents } from '../wasm/src/components.js';
import { boundingBox, nonzeroMask } from '../wasm/src/crop.js';
import { distanceTransform, signedDistance } from '../wasm/src/edt.js';
import { smoothMask } from '../wasm/src/levelset.js';
import { binaryMetrics } from '../wasm/src/metrics.js';
import { sharedKernels } from '../wasm/src/node-loader.js';
import { zscoreNormalize } from '../wasm/src/normalize.js';
import { resampleLabels, resampleVolume } from '../wasm/src/resample.js';
import type { Shape3, Spacing3 } from '../wasm/src/shape.js';
import { computeSlidingWindowSteps, PatchAccumulator } from '../wasm/src/sliding-window.js';
import { argmax, softmax } from '../wasm/src/softmax.js';
import * as plainComponents from './plain/components.js';
import * as plainCrop from './plain/crop.js';
import * as plainEdt from './plain/edt.js';
import * as plainLevelset from './plain/levelset.js';
import * as plainMetrics from './plain/metrics.js';
import * as plainNormalize from './plain/normalize.js';
import * as plainResample from './plain/resample.js';
import * as plainSliding from './plain/sliding-window.js';
import * as plainSoftmax from './plain/softmax.js';
import { PythonReference } from './python-reference.js';
import { median, took, type Took } from './timing.js';

/*
 * Every process of the benchmark (this one, the Python reference, the kernels timed alone) on one CPU,
 * BENCH_CPU or the first allowed. The two vCPUs here are not equal: whichever has a busy neighbour
 * on the host runs the same code up to 2x slower in CPU time (the Python reference of resample order
 * 1 took 169 ms pinned to one and 362 ms pinned to the other, minutes apart), and a process keeps its
 * CPU, so a ratio of two processes on different CPUs measured the neighbour (issue 14, item 5).
 * Pinned together and alternating, both sides see the same CPU. Without taskset it runs unpinned.
 */
/** This process's allowed CPUs as /proc lists them, e.g. `0-1` or `0`. */
function allowedCpus(): string | undefined {
  return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
}
function pinToOneCpu(): void {
  const allowed = allowedCpus();
  if (!allowed || /^\d+$/.test(allowed)) return;
  const cpu = process.env.BENCH_CPU ?? allowed.split(/[,-]/)[0];
  const r = spawnSync(
    'taskset',
    ['-c', cpu, process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    {
      stdio: 'inherit',
      env: withHugePages(process.env),
    },
  );
  if (r.error) return;
  process.exit(r.status ?? 1);
}
pinToOneCpu();
// As bin/nnsam.js runs: large outputs in huge pages, as numpy's are (docs/platform.md, "Node memory").
relaunchWithHugePages();

const SHARED = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const RESULTS = fileURLToPath(new URL('../../bench/results/kernels.md', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

/*
 * Garbage settled before every timed call, outside the timing. Without it a kernel's CPU time took in
 * whatever collecting, sweeping and unmapping of earlier garbage V8 did while it ran (its helper
 * threads count in process.cpuUsage): in a fresh process, the inputs of every case built just before;
 * in the full run, the outputs of the calls before. That cost, not the kernel, was behind the
 * alone/full differences of issue 14, item 5 (components alone took 112 ms at its 3rd run, 34 ms at
 * its 9th). Two full collections (the second finishes the first's sweeping) and a short pause for
 * the helper threads' unmapping. What a call leaves behind is collected before the next one, so the
 * freeing of its own outputs is not charged to it. The same settling comes before each reference call:
 * V8's helper threads collecting and unmapping the WASM call's output on the shared CPU had slowed
 * the numpy call right after it (Z-score's reference took 42 ms in the full run and 53 ms alone, with
 * its wall time 8 ms above its CPU time; settled first, 41 to 43 ms in four runs alone).
 */
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
async function settle(): Promise<void> {
  collect();
  collect();
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const PLAIN_RUNS = Math.min(RUNS, 3);
/** Largest relative difference between a kernel's ratio alone and in the full run that counts as the same. */
const SAME_WITHIN = 0.2;

interface BenchCase {
  /** Key shared with bench/kernels_ref.py. */
  key: string;
  label: string;
  reference: string;
  wasm: () => unknown;
  plain: () => unknown;
  /** Stated target: WASM at least this many times faster than the reference. */
  target?: number;
}

function load(path: string) {
  return readImage(new Uint8Array(readFileSync(SHARED + path)), { name: path });
}

const core = await sharedKernels();
const image = load('brain-wm/imagesTr/fsA_0000.nii.gz');
const wmImage = load('brain-wm/labelsTr/fsA.nii.gz');
const shape = image.shape as Shape3;
const spacing: Spacing3 = [1, 1, 1];
const data = image.data;
const wm = Uint8Array.from(wmImage.data, (v) => (v !== 0 ? 1 : 0));
const brainMask = nonzeroMask(core, [data], shape);
const down = shape.map((n) => Math.round(n / 1.5)) as unknown as Shape3;
const up = shape.map((n) => Math.round(n / 0.7)) as unknown as Shape3;
const n = data.length;
const logits = new Float32Array(2 * n);
for (let i = 0; i < n; i++) {
  logits[i] = (data[i] - 60) / 40;
  logits[n + i] = (60 - data[i]) / 50;
}
const patch: Shape3 = [128, 128, 128];
const steps = computeSlidingWindowSteps(shape, patch);
const windows: [number, number, number][] = [];
for (const z of steps[2]) for (const y of steps[1]) for (const x of steps[0]) windows.push([x, y, z]);
// Patches are cut once, outside the timing, on both sides: only the weighting is timed.
const patches = windows.map(([x0, y0, z0]) => {
  const p = new Float32Array(2 * 128 ** 3);
  for (let c = 0; c < 2; c++)
    for (let z = 0; z < 128; z++)
      for (let y = 0; y < 128; y++) {
        const src = c * n + ((z0 + z) * shape[1] + y0 + y) * shape[0] + x0;
        p.set(logits.subarray(src, src + 128), c * 128 ** 3 + (z * 128 + y) * 128);
      }
  return p;
});
const shifted = new Uint8Array(n);
shifted.set(wm.subarray(0, n - 1), 1); // np.roll(WM, 1, axis=x)
shifted[0] = wm[n - 1];

const o3 = { order: 3 as const };
const o1 = { order: 1 as const };
const o0 = { order: 0 as const };
const cases: BenchCase[] = [
  {
    key: 'crop',
    label: 'crop to non-zero (mask, fill holes, bbox)',
    reference: 'binary_fill_holes + bbox',
    wasm: () => boundingBox(core, nonzeroMask(core, [data], shape), shape),
    plain: () => plainCrop.boundingBox(plainCrop.nonzeroMask([data], shape), shape),
  },
  {
    key: 'zscore_masked',
    label: 'Z-score normalisation, masked',
    reference: 'nnU-Net ZScoreNormalization (numpy)',
    wasm: () => zscoreNormalize(core, data, brainMask),
    plain: () => plainNormalize.zscoreNormalize(data, brainMask),
  },
  {
    key: 'resample_o3_down',
    label: 'resample order 3, 1 mm -> 1.5 mm (171^3)',
    reference: 'skimage resize order 3',
    wasm: () => resampleVolume(core, data, shape, down, o3),
    plain: () => plainResample.resampleVolume(data, shape, down, o3),
    target: 5,
  },
  {
    key: 'resample_o1_down',
    label: 'resample order 1, 1 mm -> 1.5 mm',
    reference: 'skimage resize order 1',
    wasm: () => resampleVolume(core, data, shape, down, o1),
    plain: () => plainResample.resampleVolume(data, shape, down, o1),
  },
  {
    key: 'resample_o0_down',
    label: 'resample order 0, 1 mm -> 1.5 mm',
    reference: 'skimage resize order 0',
    wasm: () => resampleVolume(core, data, shape, down, o0),
    plain: () => plainResample.resampleVolume(data, shape, down, o0),
  },
  {
    key: 'resample_o3_up',
    label: 'resample order 3, 1 mm -> 0.7 mm (366^3)',
    reference: 'skimage resize order 3',
    wasm: () => resampleVolume(core, data, shape, up, o3),
    plain: () => plainResample.resampleVolume(data, shape, up, o3),
    target: 5,
  },
  {
    key: 'resample_o1_up',
    label: 'resample order 1, 1 mm -> 0.7 mm',
    reference: 'skimage resize order 1',
    wasm: () => resampleVolume(core, data, shape, up, o1),
    plain: () => plainResample.resampleVolume(data, shape, up, o1),
  },
  {
    key: 'resample_labels_o1_down',
    label: 'resample labels one-hot order 1, -> 1.5 mm',
    reference: 'nnU-Net resize_segmentation',
    wasm: () => resampleLabels(core, wm, shape, down, o1),
    plain: () => plainResample.resampleLabels(wm, shape, down, o1),
  },
  {
    key: 'edt',
    label: 'EDT of the WM mask',
    reference: 'scipy distance_transform_edt',
    wasm: () => distanceTransform(core, wm, shape, spacing),
    plain: () => plainEdt.distanceTransform(wm, shape, spacing),
    target: 5,
  },
  {
    key: 'edt_signed',
    label: 'signed distance of the WM mask',
    reference: '2x distance_transform_edt',
    wasm: () => signedDistance(core, wm, shape, spacing),
    plain: () => plainEdt.signedDistance(wm, shape, spacing),
  },
  {
    key: 'components',
    label: 'connected components, 26-connected',
    reference: 'scipy ndimage.label',
    wasm: () => labelComponents(core, wm, shape),
    plain: () => plainComponents.labelComponents(wm, shape),
    target: 2,
  },
  {
    key: 'keep_largest',
    label: 'keep largest component',
    reference: 'label + bincount + argmax',
    wasm: () => keepLargestComponent(core, wm, shape),
    plain: () => plainComponents.keepLargestComponent(wm, shape),
  },
  {
    key: 'softmax_argmax',
    label: 'softmax + argmax, 2 channels',
    reference: 'scipy.special.softmax + argmax',
    wasm: () => argmax(core, softmax(core, logits, 2), 2),
    plain: () => plainSoftmax.argmax(plainSoftmax.softmax(logits, 2), 2),
  },
  {
    key: 'gaussian_accumulate',
    label: `Gaussian-weighted accumulation, ${windows.length} patches 2x128^3`,
    reference: "nnU-Net's numpy aggregation",
    wasm: () => {
      const acc = new PatchAccumulator(core, 2, shape, patch);
      windows.forEach((w, i) => acc.add(patches[i], w));
      return acc.finish();
    },
    plain: () => {
      const acc = new plainSliding.PatchAccumulator(2, shape, patch);
      windows.forEach((w, i) => acc.add(patches[i], w));
      return acc.finish();
    },
  },
  {
    key: 'levelset_smooth_10',
    label: 'level-set smoothing, 10 steps (SDF + flow)',
    reference: 'numpy reference of the same scheme',
    wasm: () => smoothMask(core, wm, shape, spacing, { iterations: 10 }),
    plain: () => plainLevelset.smoothMask(wm, shape, spacing, { iterations: 10 }),
  },
  {
    key: 'metrics',
    label: 'Dice + ASD + HD95 (WM vs WM shifted 1 voxel)',
    reference: 'scipy erosion + EDT + percentile',
    wasm: () => binaryMetrics(core, shifted, wm, shape, spacing),
    plain: () => plainMetrics.binaryMetrics(shifted, wm, shape, spacing),
  },
];

/** Medians in ms: CPU time of each side's process, and wall time; ratios: medians of the pairs' ratios. */
interface Timing {
  wasm: number;
  reference: number;
  plain?: number;
  wasmWall: number;
  referenceWall: number;
  /** Median over the runs of reference CPU ms / WASM CPU ms of the same pair. */
  ratio: number;
  /** The same from wall-clock times. */
  ratioWall: number;
}

/** Medians of RUNS alternating runs (WASM, reference), after one untimed warm-up of each side. */
async function measure(c: BenchCase, reference: PythonReference): Promise<Timing> {
  c.wasm();
  await reference.time(c.key);
  const wasm: Took[] = [];
  const ref: Took[] = [];
  for (let i = 0; i < RUNS; i++) {
    await settle();
    wasm.push(took(c.wasm));
    await settle();
    ref.push(await reference.time(c.key));
  }
  const cpu = (t: Took[]) => median(t.map((x) => x.cpuMs));
  const wall = (t: Took[]) => median(t.map((x) => x.wallMs));
  // A pair's two runs are seconds apart, so a drift of the shared machine's speed across the runs
  // cancels in its ratio; the ratio of the two medians could take them from different runs
  // (resample order 1 up: 377 / 2088 ms in one full run, 314 / 2128 alone a minute later).
  const paired = (k: keyof Took) => median(ref.map((r, i) => r[k] / wasm[i][k]));
  return {
    wasm: cpu(wasm),
    reference: cpu(ref),
    wasmWall: wall(wasm),
    referenceWall: wall(ref),
    ratio: paired('cpuMs'),
    ratioWall: paired('wallMs'),
  };
}

/** Median CPU ms of `runs` plain-TypeScript runs after one untimed warm-up. */
async function measurePlain(c: BenchCase, runs: number): Promise<number> {
  c.plain();
  const plain: Took[] = [];
  for (let i = 0; i < runs; i++) {
    await settle();
    plain.push(took(c.plain));
  }
  return median(plain.map((x) => x.cpuMs));
}

/** `key` timed alone: in a fresh process of this script, nothing else timed there, no plain runs. */
function timeAlone(key: string): Timing {
  const r = spawnSync(process.execPath, [process.argv[1], '--alone', key], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`${key} alone failed (${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Timing;
}

/**
 * Times `cases` in this process, against one Python reference process; with `alone`, each case is
 * also timed alone (timeAlone) right after its turn here, while this process waits. The two figures
 * of a kernel are then taken a minute apart rather than twenty: on this shared machine the speed of
 * both sides drifts by more than 20 % over a quarter of an hour (issue 14, item 5), and the
 * comparison is meant to show what running after the others does, not that drift.
 */
async function timeCases(
  cases: BenchCase[],
  plainRuns: number,
  alone = false,
): Promise<{ full: Timing[]; alone?: Timing[] }> {
  const reference = PythonReference.start();
  try {
    const full: Timing[] = [];
    const fresh: Timing[] = [];
    for (const c of cases) {
      const t = await measure(c, reference);
      console.error(
        `${c.key}: CPU ms wasm ${t.wasm.toFixed(1)}, reference ${t.reference.toFixed(1)}; ` +
          `wall ms wasm ${t.wasmWall.toFixed(1)}, reference ${t.referenceWall.toFixed(1)}`,
      );
      full.push(t);
      if (alone) {
        const a = timeAlone(c.key);
        console.error(
          `${c.key} alone: CPU ms wasm ${a.wasm.toFixed(1)}, reference ${a.reference.toFixed(1)}`,
        );
        fresh.push(a);
      }
    }
    // The plain runs last, after every kernel's timed pairs: they make the most garbage by far
    // (gigabytes for the resamplings), and the reference timed after them slowed by up to 45 %
    // (resample order 0 after order 1's plain runs, issue 14 item 5), though not the WASM side.
    if (plainRuns) {
      for (const [i, c] of cases.entries()) {
        full[i].plain = await measurePlain(c, plainRuns);
        console.error(`${c.key}: CPU ms plain TS ${full[i].plain!.toFixed(1)}`);
      }
    }
    return { full, alone: alone ? fresh : undefined };
  } finally {
    await reference.close();
  }
}

function uptime(): string {
  return spawnSync('uptime', { encoding: 'utf8' }).stdout?.trim() ?? 'unknown';
}

const args = process.argv.slice(2);
if (args[0] === '--alone') {
  const {
    full: [t],
  } = await timeCases(
    cases.filter((c) => c.key === args[1]),
    0,
  );
  if (!t) throw new Error(`no kernel case ${args[1]}`);
  console.log(JSON.stringify(t));
  process.exit(0);
}
const selected = args.length ? cases.filter((c) => args.includes(c.key)) : cases;
const uptimeBefore = uptime();
console.error(`timing ${selected.length} kernels, ${RUNS} runs each (median), after one warm-up`);
const { full, alone } = await timeCases(selected, PLAIN_RUNS, !args.length);
const uptimeAfter = uptime();

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const x = (r: number) => `${r.toFixed(2)}x`;
const rows = selected.map((c, i) => {
  const f = full[i];
  const ratio = f.ratio;
  const cells = [
    c.label,
    fmt(f.wasm),
    fmt(f.plain!),
    fmt(f.reference),
    c.reference,
    x(ratio),
    x(f.plain! / f.wasm),
    x(f.ratioWall),
  ];
  let worst = ratio;
  if (alone) {
    const a = alone[i];
    const aloneRatio = a.ratio;
    const drift = aloneRatio / ratio;
    const same = Math.abs(drift - 1) <= SAME_WITHIN ? 'same' : 'DIFFERS';
    cells.push(fmt(a.wasm), fmt(a.reference), x(aloneRatio), `${drift.toFixed(2)} ${same}`);
    worst = Math.min(ratio, aloneRatio);
  }
  cells.push(c.target ? `>= ${c.target}x: ${worst >= c.target ? 'met' : 'MISSED'}` : '');
  return `| ${cells.join(' | ')} |`;
});
const aloneHead = alone ? ' alone: WASM ms | alone: reference ms | alone: ref / WASM | alone / full |' : '';
const aloneRule = alone ? ' ---: | ---: | ---: | --- |' : '';
const lines = [
  '# Kernel benchmark',
  '',
  `256^3 volume \`brain-wm/imagesTr/fsA_0000.nii.gz\` (and its WM label), single thread, median of ${RUNS} runs`,
  `after one warm-up of each side. The reference is timed by /usr/bin/python3, one call at a time, its`,
  `runs alternating with the WASM runs, so both see the same load; ${PLAIN_RUNS} plain-TypeScript runs of each kernel follow them all.`,
  `Before every timed call on either side, Node's garbage of earlier calls is collected and swept, outside the timing`,
  `(two full collections and a 50 ms pause; bench/kernels.ts says why). WASM times include copying into`,
  `and out of the module's memory. Node runs with`,
  `\`GLIBC_TUNABLES=glibc.malloc.hugetlb=1\`, as \`bin/nnsam.js\` does, so large outputs come in huge pages`,
  `as numpy's do (docs/platform.md, "Node memory"). ${/^\d+$/.test(allowedCpus() ?? '') ? `Every process of the benchmark is pinned to CPU ${allowedCpus()}` : `Not pinned to one CPU (allowed: ${allowedCpus() ?? 'unknown'}; no taskset?)`}`,
  `(bench/kernels.ts says why). Machine: ${cpus()[0]?.model ?? 'unknown'} x${cpus().length}, Node ${process.version}.`,
  '',
  'Times are CPU time of the timing process, user + system (page faults and garbage collection count,',
  'waiting for a core does not): the machine is shared, and on a loaded one wall-clock time is mostly',
  'queueing for a core (the `uptime` lines below give the load). The',
  '"wall clock" column gives the same ratio from wall-clock times, for comparison. Every ratio is the median',
  `of the ${RUNS} pairs' ratios (a reference run over the WASM run just before it), not a ratio of the two medians:`,
  "a pair is timed within seconds, so a drift of the shared machine's speed over the runs cancels in it.",
  '',
  ...(alone
    ? [
        'The first ratio is from one process timing every kernel in turn (the full run); the "alone"',
        'columns time each kernel again in a fresh process of its own, with nothing timed before it, started',
        'right after that kernel\'s turn in the full run (so both figures see the same machine). "alone /',
        `full" divides the two ratios: "same" when within ${SAME_WITHIN * 100} %. A target counts as met when both ratios meet it.`,
        '',
      ]
    : []),
  `- \`uptime\` before: ${uptimeBefore}`,
  `- \`uptime\` after: ${uptimeAfter}`,
  '',
  `| kernel | WASM ms | plain TS ms | reference ms | reference | ref / WASM | plain / WASM | ref / WASM, wall clock |${aloneHead} target |`,
  `| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |${aloneRule} --- |`,
  ...rows,
  '',
];
const table = lines.join('\n');
console.log(table);
if (!args.length) {
  mkdirSync(fileURLToPath(new URL('.', `file://${RESULTS}`)), { recursive: true });
  writeFileSync(RESULTS, table);
  console.error(`wrote ${RESULTS}`);
}
