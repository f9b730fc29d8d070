/**
 * @module
 * `npm run bench`: every WASM kernel on a 256^3 brain volume from ../shared/data, against the
 * scipy / scikit-image / numpy call nnU-Net makes (timed by /usr/bin/python3 in the same run, on the
 * same volumes) and a plain-TypeScript version. Single-threaded. Prints a table of medians and
 * ratios and writes bench/results/kernels.md.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
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
import { timePythonReference } from './python-reference.js';
import { medianMs } from './timing.js';

const SHARED = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const RESULTS = fileURLToPath(new URL('../../bench/results/kernels.md', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

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
    target: 1,
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

const only = process.argv.slice(2);
const selected = only.length ? cases.filter((c) => only.includes(c.key)) : cases;
console.error(`timing ${selected.length} kernels, ${RUNS} runs each (median), after one warm-up`);
const rows = selected.map((c) => {
  const wasm = medianMs(c.wasm, RUNS);
  const plain = medianMs(c.plain, Math.min(RUNS, 3));
  console.error(`${c.key}: wasm ${wasm.toFixed(1)} ms, plain TS ${plain.toFixed(1)} ms`);
  return { c, wasm, plain };
});
const reference = timePythonReference(
  selected.map((c) => c.key),
  RUNS,
);

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const lines = [
  '# Kernel benchmark',
  '',
  `256^3 volume \`brain-wm/imagesTr/fsA_0000.nii.gz\` (and its WM label), single thread, median of ${RUNS} runs`,
  `after one warm-up; reference timed by /usr/bin/python3 in the same run. WASM times include copying`,
  `into and out of the module's memory. Machine: ${cpus()[0]?.model ?? 'unknown'} x${cpus().length}, Node ${process.version}.`,
  '',
  '| kernel | WASM ms | plain TS ms | reference ms | reference | ref / WASM | plain / WASM | target |',
  '| --- | ---: | ---: | ---: | --- | ---: | ---: | --- |',
  ...rows.map(({ c, wasm, plain }) => {
    const ref = reference[c.key];
    const ratio = ref / wasm;
    const target = c.target ? `>= ${c.target}x: ${ratio >= c.target ? 'met' : 'MISSED'}` : '';
    return `| ${c.label} | ${fmt(wasm)} | ${fmt(plain)} | ${fmt(ref)} | ${c.reference} | ${ratio.toFixed(2)}x | ${(plain / wasm).toFixed(2)}x | ${target} |`;
  }),
  '',
];
const table = lines.join('\n');
console.log(table);
if (!only.length) {
  mkdirSync(fileURLToPath(new URL('.', `file://${RESULTS}`)), { recursive: true });
  writeFileSync(RESULTS, table);
  console.error(`wrote ${RESULTS}`);
}
