// The cost model against the pipeline it models: the evaluations it predicts are the patch
// evaluations segment() makes on real data, and the hostile headers of issue 10 are refused from
// the header, before the reader allocates their voxels.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { zipSync } from 'fflate';
import { fsbSlab, MODEL_ID, tempDir, testRegistry } from '../../test/engine/engine-helpers.js';
import { REPO_ROOT } from '../../test/support/goldens.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { LimitError } from '../errors.js';
import { readImage, writeNifti, type ImageVolume, type Spacing3 } from '../io/index.js';
import type { ModelManifest } from '../models/manifest.js';
import type { ModelRegistry } from '../models/registry.js';
import type { InferenceRuntime } from '../runtime/runtime.js';
import { segment } from './segment.js';
import { checkWork, DEFAULT_WORK_LIMITS, estimateWork, workGuard } from './work.js';

let registry: ModelRegistry;
let manifest: ModelManifest;
before(async () => {
  registry = testRegistry();
  manifest = (await registry.load(MODEL_ID)).manifest;
});
after(async () => {
  await registry.dispose();
});

/** The fold runtimes, counting every patch the network evaluates (the batch dimension of each call). */
function counting(folds: InferenceRuntime[], count: { patches: number }): InferenceRuntime[] {
  return folds.map((f) => ({
    ...f,
    info: f.info,
    inputName: f.inputName,
    outputNames: f.outputNames,
    run: (input, dims) => {
      count.patches += dims[0];
      return f.run(input, dims);
    },
  }));
}

test('the predicted evaluations are the ones segment() makes, with and without TTA and resampling', async () => {
  const slab = await fsbSlab(tempDir(), 2);
  // Nothing to crop: the header's shape is then the work's exact size, not an upper bound.
  const data = slab.image.data.map((v) => v + 1);
  const folds = await registry.runtimes(MODEL_ID, 'cpu', { threads: 1 });
  const cases: { spacing: Spacing3; tta: boolean }[] = [
    { spacing: [1, 1, 1], tta: true },
    { spacing: [1, 0.7, 1.3], tta: false },
  ];
  for (const { spacing, tta } of cases) {
    const image: ImageVolume = { ...slab.image, data, spacing };
    const estimate = estimateWork({ shape: image.shape, spacing, channels: 1 }, manifest, {
      tta,
    });
    const count = { patches: 0 };
    await segment(await sharedKernels(), image, manifest, counting(folds, count), { tta });
    assert.equal(estimate.evaluations, count.patches, `spacing ${spacing}, tta ${tta}`);
    assert.ok(estimate.evaluations > 0);
  }
});

test("an ensemble's estimate counts every fold: brain-wm-2d@2.1.0 makes twice one model's evaluations", async () => {
  const ensemble = 'brain-wm-2d@2.1.0';
  const ensembleManifest = (await registry.load(ensemble)).manifest;
  const slab = await fsbSlab(tempDir(), 2);
  const image: ImageVolume = { ...slab.image, data: slab.image.data.map((v) => v + 1) };
  const header = { shape: image.shape, spacing: image.spacing, channels: 1 };
  const estimate = estimateWork(header, ensembleManifest, { tta: false });
  const count = { patches: 0 };
  const folds = await registry.runtimes(ensemble, 'cpu', { threads: 1 });
  assert.equal(folds.length, 2);
  await segment(await sharedKernels(), image, ensembleManifest, counting(folds, count), { tta: false });
  assert.equal(estimate.evaluations, count.patches);
  assert.equal(estimate.evaluations, 2 * estimateWork(header, manifest, { tta: false }).evaluations);
});

/** A volume of `shape` and `spacing` (axis-aligned), as the NIfTI writer takes it. */
function volume(shape: [number, number, number], spacing: Spacing3): ImageVolume {
  const [a, b, c] = spacing;
  return {
    shape,
    spacing,
    affine: [
      [a, 0, 0, 0],
      [0, b, 0, 0],
      [0, 0, c, 0],
      [0, 0, 0, 1],
    ],
    data: new Float32Array(0),
    datatype: 'uint8',
    format: 'nifti1',
  };
}

/** An uncompressed NIfTI with `shape` and `spacing` whose voxel data is cut off after `keep` bytes. */
function truncatedNifti(shape: [number, number, number], spacing: Spacing3, keep = 0): Uint8Array {
  const bytes = writeNifti(volume([1, 1, 1], spacing), new Uint8Array(1), { datatype: 'uint8' });
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  shape.forEach((n, i) => view.setInt16(42 + 2 * i, n, true));
  return bytes.slice(0, 352 + keep);
}

test("issue 10's hostile headers are refused from the header with work_too_large, before the voxels are read", () => {
  const guard = workGuard(manifest, { tta: true }, DEFAULT_WORK_LIMITS);
  const refused = (bytes: Uint8Array, pattern: RegExp) =>
    assert.throws(
      () => readImage(bytes, { inspect: guard }),
      (err: unknown) =>
        err instanceof LimitError && err.code === 'work_too_large' && pattern.test(err.message),
    );
  // 32x32x16 at a z spacing of 196608 mm: millions of patches for a 3 KB file. The data is cut
  // off, so a reader that decoded before asking would answer nifti_truncated instead.
  refused(truncatedNifti([32, 32, 16], [1, 1, 196608]), /network patch evaluations .* limit is 32768/);
  // 512x512x1024 at 1 mm (6.9 GB of node RSS in the issue): over both bounds.
  refused(truncatedNifti([512, 512, 1024], [1, 1, 1]), /network patch evaluations/);
  const big = estimateWork({ shape: [512, 512, 1024], spacing: [1, 1, 1], channels: 1 }, manifest, {
    tta: true,
  });
  assert.ok(big.peakBytes > DEFAULT_WORK_LIMITS.maxPeakBytes, `${big.peakBytes} bytes`);
  assert.throws(
    () => checkWork(big, { maxEvaluations: Number.MAX_SAFE_INTEGER, maxPeakBytes: 2 * 2 ** 30 }, MODEL_ID),
    /MiB of working memory/,
  );
  // A 16 KB gzip of zeros, 512x512x64 at 2x2x3 mm: over the evaluation bound (it held a node for minutes).
  const zeros = writeNifti(volume([512, 512, 64], [2, 2, 3]), new Uint8Array(512 * 512 * 64), {
    datatype: 'uint8',
  });
  const bomb = gzipSync(zeros, { level: 9 });
  assert.ok(bomb.byteLength < 64 * 1024, `the gzip is ${bomb.byteLength} bytes`);
  refused(bomb, /network patch evaluations/);
  // Without the guard the same truncated header is the reader's own error: the guard ran first.
  assert.throws(() => readImage(truncatedNifti([32, 32, 16], [1, 1, 196608])), /truncated/);
});

test('a real volume is within the default bounds, and a bound below its work refuses it', () => {
  const fsA = estimateWork({ shape: [256, 256, 256], spacing: [1, 1, 1], channels: 1 }, manifest, {
    tta: true,
  });
  assert.equal(fsA.tilesPerSlice, 9);
  assert.equal(fsA.evaluations, 9 * 256 * 4);
  checkWork(fsA, DEFAULT_WORK_LIMITS, MODEL_ID);
  assert.throws(
    () => checkWork(fsA, { ...DEFAULT_WORK_LIMITS, maxEvaluations: fsA.evaluations - 1 }, MODEL_ID),
    /work_too_large|network patch evaluations/,
  );
  assert.throws(() => checkWork(fsA, { ...DEFAULT_WORK_LIMITS, maxPeakBytes: 2 ** 20 }, MODEL_ID), /MiB/);
  // Non-finite or non-positive spacings are the input's fault (422), not a number to compute with.
  assert.throws(
    () =>
      estimateWork({ shape: [8, 8, 8], spacing: [1, Number.NaN, 1], channels: 1 }, manifest, {
        tta: true,
      }),
    /bad_spacing|spacing must be positive/,
  );
});

test('the input as held counts: the body as read, and a zip its inflated files besides', () => {
  const seen: number[] = [];
  const spy = (_geometry: unknown, heldBytes: number) => void seen.push(heldBytes);
  // An uncompressed float32 NIfTI is read in place: the node holds it whole beside the float32 copy.
  const shape: [number, number, number] = [32, 32, 8];
  const nifti = writeNifti(volume(shape, [1, 1, 1]), new Float32Array(32 * 32 * 8).fill(1), {
    datatype: 'float32',
  });
  readImage(nifti, { inspect: spy });
  const gz = gzipSync(nifti);
  readImage(gz, { inspect: spy });
  // A zipped DICOM series: the zip, and each file it inflates to, held until the series is decoded.
  const dir = `${REPO_ROOT}test/fixtures/dicom/series/`;
  const files = Object.fromEntries(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(dir + f))]));
  const zip = zipSync(files);
  readImage(zip, { inspect: spy });
  const inflated = Object.values(files).reduce((sum, f) => sum + f.byteLength, 0);
  assert.deepEqual(seen, [nifti.byteLength, gz.byteLength, zip.byteLength + inflated]);

  const geometry = { shape, spacing: [1, 1, 1] as Spacing3, channels: 1 };
  const bare = estimateWork(geometry, manifest, { tta: true });
  const held = estimateWork(geometry, manifest, { tta: true }, nifti.byteLength);
  assert.equal(held.peakBytes - bare.peakBytes, nifti.byteLength);
  // A memory bound between the two refuses the input once its bytes are counted.
  const limits = { maxEvaluations: Number.MAX_SAFE_INTEGER, maxPeakBytes: bare.peakBytes + 1 };
  readImage(nifti, {
    inspect: workGuard(manifest, { tta: true }, { ...limits, maxPeakBytes: held.peakBytes }),
  });
  assert.throws(
    () => readImage(nifti, { inspect: workGuard(manifest, { tta: true }, limits) }),
    /MiB of working memory/,
  );
});
