/**
 * `nnsam segment` end to end on the three input kinds: the brain-wm-2d validation case (NIfTI,
 * scored against its label with the metrics kernel: the model card's Dice must come out), a DICOM
 * series and a PNG slice made from fsB (written as NIfTI and as PNG); the output-name checks and the
 * modality warning on a chest X-ray; `--model ID@VERSION` (an older release) and `nnsam models`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { decode, encode } from 'fast-png';
import { zipSync } from 'fflate';
import { readImageFile } from '../../engine/cli/files.js';
import { inv3, matmul4 } from '../../engine/io/affine.js';
import { runCli } from '../../engine/cli/main.js';
import { writeNifti, type ImageVolume } from '../../engine/io/index.js';
import { labelMetrics } from '../../wasm/src/metrics.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import {
  FSB_IMAGE,
  FSB_LABEL,
  fsbSlab,
  MODELS_DIR,
  MODEL_ID,
  REPO,
  tempDir,
  validationCase,
} from './engine-helpers.js';

/**
 * How far the engine's validation Dice may be from the card's (PyTorch reference, same post-processing):
 * the two pipelines agree to ~1e-6 in probability, so only boundary voxels at p = 0.5 may flip.
 */
const CARD_DICE_TOLERANCE = 0.001;
/**
 * One sagittal slice as a PNG is z-scored on its own (nnU-Net normalises per image), not with the
 * volume's statistics, so its Dice is lower: 0.757 measured.
 */
const PNG_MIN_DICE = 0.73;

let dir: string;
before(() => {
  dir = tempDir();
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY: false });
  return { code, out, err };
}

/** `nnsam segment IN -o OUT --model MODEL --models <repo models> ...extra`. */
function segmentCli(input: string, output: string, model: string, ...extra: string[]) {
  return cli('segment', input, '-o', output, '--model', model, '--models', MODELS_DIR, ...extra);
}

async function wmDice(pred: ImageVolume, ref: ImageVolume): Promise<number> {
  const m = labelMetrics(await sharedKernels(), pred.data, ref.data, ref.shape, ref.spacing, [1]);
  return m['1'].dice;
}

test("segment the validation case (NIfTI): the card's Dice, the input geometry, stats", async () => {
  const val = validationCase();
  const out = join(dir, 'val-seg.nii.gz');
  const stats = join(dir, 'val-stats.json');
  const r = await segmentCli(val.image, out, MODEL_ID, '--stats', stats);
  assert.equal(r.code, 0, r.err);
  const [input, seg, label] = await Promise.all([
    readImageFile(val.image),
    readImageFile(out),
    readImageFile(val.label),
  ]);
  assert.deepEqual(seg.shape, input.shape);
  assert.deepEqual(seg.spacing, input.spacing);
  assert.deepEqual(seg.affine, input.affine);
  assert.equal(seg.nifti?.qformCode, input.nifti?.qformCode);
  assert.equal(seg.nifti?.sformCode, input.nifti?.sformCode);
  const dice = await wmDice(seg, label);
  assert.ok(
    Math.abs(dice - val.dice) <= CARD_DICE_TOLERANCE,
    `${val.id} white-matter Dice ${dice}, the card says ${val.dice}`,
  );
  const s = JSON.parse(readFileSync(stats, 'utf8')) as {
    labels: { label: number; voxels: number; volume_ml: number }[];
  };
  let count = 0;
  for (const v of seg.data) count += v === 1 ? 1 : 0;
  assert.equal(s.labels[0].voxels, count);
  assert.ok(
    Math.abs(
      s.labels[0].volume_ml - (count * input.spacing[0] * input.spacing[1] * input.spacing[2]) / 1000,
    ) < 1e-6,
  );
});

test("segment --weights int8: the card's int8 Dice on the validation case; unknown or absent variants fail", async () => {
  const val = validationCase();
  assert.ok(val.int8Dice !== undefined, 'the manifest reports no int8 Dice');
  const out = join(dir, 'val-seg-int8.nii.gz');
  const r = await segmentCli(val.image, out, MODEL_ID, '--weights', 'int8', '--json');
  assert.equal(r.code, 0, r.err);
  assert.equal((JSON.parse(r.out) as { weights: string }).weights, 'int8');
  const dice = await wmDice(await readImageFile(out), await readImageFile(val.label));
  assert.ok(
    Math.abs(dice - val.int8Dice) <= CARD_DICE_TOLERANCE,
    `${val.id} int8 Dice ${dice}, the card says ${val.int8Dice}`,
  );
  const unknown = await segmentCli(val.image, out, MODEL_ID, '--weights', 'int4');
  assert.equal(unknown.code, 2, unknown.err);
  assert.match(unknown.err, /--weights must be one of fp32\|fp16\|int8/);
  // The nnSAM stand-in ships its weights as one fp16-stored file: no int8 variant.
  const absent = await segmentCli(val.image, out, 'nnsam-tinyvit-random', '--weights', 'int8');
  assert.equal(absent.code, 1, absent.err);
  assert.match(absent.err, /weights_unavailable.*no int8 weights/);
});

test('segment a DICOM series, as a folder and as a zip: the same mask as its NIfTI source, in world space', async () => {
  const { path, image } = await fsbSlab(dir, 6);
  const series = join(dir, 'dicom');
  execFileSync('/usr/bin/python3', [join(REPO, 'test/engine/make_dicom_series.py'), path, series]);
  // The zip lists the slices in reverse name order: the reader orders slices by geometry, not names.
  const zipped = join(dir, 'series.zip');
  const names = readdirSync(series).sort().reverse();
  writeFileSync(
    zipped,
    zipSync(
      Object.fromEntries(names.map((n) => [`series/${n}`, new Uint8Array(readFileSync(join(series, n)))])),
    ),
  );
  const fromNifti = join(dir, 'slab-nifti.nii.gz');
  const fromDicom = join(dir, 'slab-dicom.nii.gz');
  const fromZip = join(dir, 'slab-zip.nii.gz');
  for (const [input, output] of [
    [path, fromNifti],
    [series, fromDicom],
    [zipped, fromZip],
  ]) {
    const r = await segmentCli(input, output, MODEL_ID);
    assert.equal(r.code, 0, r.err);
  }
  const a = await readImageFile(fromNifti);
  const b = await readImageFile(fromDicom);
  assert.deepEqual(b.shape, image.shape);
  // The series' slice normal points against k (fsB's grid is left-handed): map DICOM voxels to NIfTI voxels through the affines.
  const mapped = resampleByAffine(b, a);
  const dice = await wmDice(mapped, a);
  assert.ok(dice >= 0.99, `DICOM vs NIfTI Dice ${dice} < 0.99`);
  const z = await readImageFile(fromZip);
  assert.deepEqual(z.affine, b.affine);
  assert.deepEqual(z.data, b.data, 'the zipped series gives the folder mask');
});

test('segment reads NaN and infinite voxels as 0 (background) and says so: the same mask as zeros', async () => {
  // Found by review: one NaN spread through the normalisation and the mask came out empty.
  const { image } = await fsbSlab(dir, 6);
  const zeros = Float32Array.from(image.data);
  let holes = 0;
  const nans = zeros.map((v, i) => (v !== 0 ? v : (holes++, i % 7 === 0 ? Infinity : NaN)));
  const run = async (name: string, data: Float32Array) => {
    const input = join(dir, `${name}.nii.gz`);
    writeFileSync(input, writeNifti(image, data, { gzip: true, datatype: 'float32' }));
    const r = await segmentCli(input, join(dir, `${name}-seg.nii.gz`), MODEL_ID, '--no-tta', '--json');
    assert.equal(r.code, 0, r.err);
    return { seg: await readImageFile(join(dir, `${name}-seg.nii.gz`)), r };
  };
  const clean = await run('slab-zeros', zeros);
  const holed = await run('slab-nan', nans);
  assert.ok(holes > 1000, 'the slab has a background to fill');
  assert.ok(
    clean.seg.data.some((v) => v === 1),
    'the zero-background slab has white matter',
  );
  assert.deepEqual(holed.seg.data, clean.seg.data);
  const warnings = (JSON.parse(holed.r.out) as { warnings: string[] }).warnings;
  assert.deepEqual(warnings, [
    `${holes} of ${zeros.length} voxels were NaN or infinite and were read as 0 (background)`,
  ]);
  assert.match(holed.r.err, /warning: \d+ of \d+ voxels were NaN or infinite/);
  assert.deepEqual((JSON.parse(clean.r.out) as { warnings: string[] }).warnings, []);
});

test('segment a PNG slice: the sagittal fsB slice scored against its label', async () => {
  const [image, label] = await Promise.all([readImageFile(FSB_IMAGE), readImageFile(FSB_LABEL)]);
  const [nx, ny, nz] = image.shape;
  const x = Math.floor(nx / 2) - 20;
  // Rows = j, columns = k: the orientation of the model's training slices (nibabel A[x, :, :]).
  const pixels = new Uint8Array(ny * nz);
  const truth = new Float32Array(ny * nz);
  for (let j = 0; j < ny; j++) {
    for (let k = 0; k < nz; k++) {
      pixels[j * nz + k] = image.data[(k * ny + j) * nx + x];
      truth[j * nz + k] = label.data[(k * ny + j) * nx + x];
    }
  }
  const png = join(dir, 'fsB-sagittal.png');
  writeFileSync(png, encode({ width: nz, height: ny, data: pixels, channels: 1, depth: 8 }));
  const out = join(dir, 'fsB-sagittal-seg.nii.gz');
  const r = await segmentCli(png, out, MODEL_ID);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.err, /warning/, 'a PNG slice of a T1 volume is what the model takes');
  const seg = await readImageFile(out);
  assert.deepEqual(seg.shape, [nz, ny, 1]);
  const dice = await wmDice(seg, { ...seg, data: truth });
  assert.ok(dice >= PNG_MIN_DICE, `PNG slice Dice ${dice} < ${PNG_MIN_DICE}`);

  // -o .png: the same labels as pixel values of an indexed PNG (not NIfTI bytes under a .png name).
  const outPng = join(dir, 'fsB-sagittal-seg.png');
  const p = await segmentCli(png, outPng, MODEL_ID);
  assert.equal(p.code, 0, p.err);
  const mask = decode(readFileSync(outPng));
  assert.deepEqual([mask.width, mask.height, mask.channels], [nz, ny, 1]);
  assert.deepEqual(mask.palette?.slice(0, 2), [
    [0, 0, 0],
    [255, 0, 0],
  ]);
  assert.deepEqual(Float32Array.from(mask.data), seg.data);
});

test('segment warns (stderr and --json) when a chest X-ray JPEG goes to the brain T1 model, and still runs', async () => {
  const xray = join(REPO, '../shared/data/fixtures/chest-xray/1.jpg');
  const r = await segmentCli(xray, join(dir, 'xray-seg.png'), MODEL_ID, '--no-tta', '--json');
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /^nnsam segment: warning: the input is a JPEG.*expects T1/m);
  const summary = JSON.parse(r.out) as { warnings: string[] };
  assert.equal(summary.warnings.length, 1);
  assert.ok(r.err.includes(summary.warnings[0]), 'the JSON carries the printed warning');
});

test('segment -o: a 3D input refuses .png (exit 1), other extensions are a usage error (exit 2)', async () => {
  const volume = join(REPO, '../shared/data/fixtures/mr-aniso/KmeansTest_T1UCharRaw.nii.gz');
  const png = join(dir, 'volume-seg.png');
  const r3d = await segmentCli(volume, png, MODEL_ID);
  assert.equal(r3d.code, 1, r3d.err);
  assert.match(r3d.err, /error \[png_needs_2d\]: .*shape \[128,128,62\]; name the output \.nii or \.nii\.gz/);
  assert.ok(!existsSync(png), 'nothing written');
  for (const bad of ['seg.tif', 'seg.gz', 'seg']) {
    const r = await segmentCli(volume, join(dir, bad), MODEL_ID);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /must end in \.nii, \.nii\.gz or \.png/);
  }
  const probs = await segmentCli(volume, join(dir, 'ok.nii.gz'), MODEL_ID, '--probabilities', 'p.png');
  assert.equal(probs.code, 2, probs.err);
  assert.match(probs.err, /--probabilities p\.png: float32 probabilities need a \.nii or \.nii\.gz name/);
});

test('segment bounds the work from the header: an absurd spacing exits 1 at once with work_too_large', async () => {
  // Issue 10: a 32x32x16 crop with a z spacing of 196608 mm ran to 2.9 GB and never finished.
  const slab = await fsbSlab(dir, 16);
  const absurd = join(dir, 'absurd-z.nii.gz');
  // No source header: the writer then takes the spacing from the affine.
  const crop = { ...slab.image, nifti: undefined, spacing: [1, 1, 196608] as [number, number, number] };
  crop.affine = crop.affine.map((row, r) => row.map((v, c) => (c === 2 && r < 3 ? v * 196608 : v)));
  writeFileSync(absurd, writeNifti(crop, slab.image.data, { gzip: true, datatype: 'float32' }));
  const out = join(dir, 'absurd-labels.nii.gz');
  const refused = await segmentCli(absurd, out, MODEL_ID);
  assert.equal(refused.code, 1, refused.err);
  assert.match(refused.err, /error \[work_too_large\]: .*network patch evaluations.*the limit is 32768/);
  assert.ok(!existsSync(out), 'no output is written');
  // The same bound, lowered, refuses the real slab; a bad value is a usage error.
  const lowered = await segmentCli(slab.path, out, MODEL_ID, '--max-evaluations', '10');
  assert.equal(lowered.code, 1);
  assert.match(lowered.err, /work_too_large.*the limit is 10\./);
  assert.equal((await segmentCli(slab.path, out, MODEL_ID, '--max-memory-mb', '0')).code, 2);
});

/** Nearest-voxel resampling of `src` onto `like`'s grid through both affines (an exact permutation/flip here). */
function resampleByAffine(src: ImageVolume, like: ImageVolume): ImageVolume {
  const m = matmul4(invertAffine(src.affine), like.affine);
  const [nx, ny, nz] = like.shape;
  const [sx, sy] = src.shape;
  const out = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const v = [0, 1, 2].map((r) => Math.round(m[r][0] * i + m[r][1] * j + m[r][2] * k + m[r][3]));
        out[(k * ny + j) * nx + i] = src.data[(v[2] * sy + v[1]) * sx + v[0]];
      }
    }
  }
  return { ...like, data: out };
}

/** Inverse of a voxel-to-world affine: the 3x3 block inverted, the translation carried. */
function invertAffine(a: number[][]): number[][] {
  const r = inv3(a.slice(0, 3).map((row) => row.slice(0, 3)));
  if (!r) throw new Error('singular affine');
  const t = [0, 1, 2].map((i) => -(r[i][0] * a[0][3] + r[i][1] * a[1][3] + r[i][2] * a[2][3]));
  return [
    [...r[0], t[0]],
    [...r[1], t[1]],
    [...r[2], t[2]],
    [0, 0, 0, 1],
  ];
}

test('segment --model brain-wm-2d@1.2.0 runs release 1.2.0 and says so; bad and unknown references fail', async () => {
  const slab = await fsbSlab(dir, 4);
  const out = join(dir, 'slab-1.2.0.nii.gz');
  const r = await segmentCli(slab.path, out, `${MODEL_ID}@1.2.0`, '--no-tta', '--json');
  assert.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out) as { model: string; model_version: string };
  assert.deepEqual([summary.model, summary.model_version], [MODEL_ID, '1.2.0']);
  const text = await segmentCli(slab.path, out, `${MODEL_ID}@1.2.0`, '--no-tta');
  assert.match(text.out, new RegExp(`-> ${out}: ${MODEL_ID}@1\\.2\\.0 on cpu`));
  // The same labels as a models folder whose only brain-wm-2d is the 1.2.0 release, as current.
  const only = join(dir, 'models-1.2.0');
  mkdirSync(only);
  symlinkSync(join(MODELS_DIR, MODEL_ID, 'releases', '1.2.0'), join(only, MODEL_ID));
  const alone = join(dir, 'slab-alone.nii.gz');
  const a = await cli('segment', slab.path, '-o', alone, '--model', MODEL_ID, '--models', only, '--no-tta');
  assert.equal(a.code, 0, a.err);
  assert.deepEqual((await readImageFile(out)).data, (await readImageFile(alone)).data);

  const bad = await segmentCli(slab.path, out, `${MODEL_ID}@1.2`);
  assert.equal(bad.code, 2, bad.err);
  assert.match(
    bad.err,
    /bad model reference 'brain-wm-2d@1\.2': a model reference is ID or ID@MAJOR\.MINOR\.PATCH/,
  );
  const unknown = await segmentCli(slab.path, out, `${MODEL_ID}@9.9.9`);
  assert.equal(unknown.code, 1, unknown.err);
  assert.match(
    unknown.err,
    /error \[model_not_found\]: no version 9\.9\.9 of model 'brain-wm-2d' \(installed: .*1\.2\.0/,
  );

  const models = await cli('models', '--models', MODELS_DIR, '--json');
  assert.equal(models.code, 0, models.err);
  const listed = (
    JSON.parse(models.out) as { id: string; version: string; current: boolean; ok: boolean }[]
  ).filter((m) => m.id === MODEL_ID);
  assert.ok(listed.some((m) => m.version === '1.2.0' && m.ok));
  assert.deepEqual(
    listed.filter((m) => m.current).map((m) => m.version),
    [
      (JSON.parse(readFileSync(join(MODELS_DIR, MODEL_ID, 'manifest.json'), 'utf8')) as { version: string })
        .version,
    ],
  );
});
