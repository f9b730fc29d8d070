// The streamed preprocessing against the whole-volume one it replaced (docs/nnunet-inference.md,
// "Memory"): on real volumes kept in their stored type, every model slice must be bit for bit what
// crop-to-nonzero on the float32 decode, normalisation of the crop copy and a full transpose give,
// for each normalisation scheme, several axis orders, a hole inside the mask, a crop touching the
// volume's faces and an all-zero image. The kernel memory it leases must come back.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { MODEL_ID, testRegistry } from '../../test/engine/engine-helpers.js';
import { cropToNonzero, cropVolume } from '../../wasm/src/crop.js';
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { ctNormalize, zscoreNormalize } from '../../wasm/src/normalize.js';
import { readImage, type ImageVolume, type Shape3, type VoxelArray } from '../io/index.js';
import type { ModelManifest } from '../models/manifest.js';
import type { ModelRegistry } from '../models/registry.js';
import { modelAxes, permute3, permuteTuple } from './axes.js';
import { preprocess } from './preprocess.js';

const DATA = new URL('../../../../shared/data/', import.meta.url);
const read = (path: string): ImageVolume<VoxelArray> =>
  readImage(new Uint8Array(readFileSync(new URL(path, DATA))), { name: path, storedType: true });

let registry: ModelRegistry;
let shipped: ModelManifest;
let core: KernelCore;
before(async () => {
  registry = testRegistry();
  shipped = (await registry.load(MODEL_ID)).manifest;
  core = await sharedKernels();
});
after(async () => {
  await registry.dispose();
});

/** The shipped manifest with other plans: a normalisation scheme, a mask setting, an axis order. */
function variant(
  scheme: string,
  useMask: boolean,
  transposeForward: number[],
  arrayAxes: 'nibabel' | 'nnunet' = 'nibabel',
): ModelManifest {
  const m = structuredClone(shipped);
  m.plans.normalization_schemes = [scheme];
  m.plans.use_mask_for_norm = [useMask];
  m.plans.transpose_forward = transposeForward;
  m.inference.array_axes = arrayAxes;
  return m;
}

/** The whole-volume preprocessing: float32 image, crop copy, normalised copy, transposed copy. */
function wholeVolume(data: Float32Array, shape: Shape3, manifest: ModelManifest) {
  const crop = cropToNonzero(core, [data], shape);
  const mask = manifest.plans.use_mask_for_norm[0] ? crop.mask : undefined;
  const scheme = manifest.plans.normalization_schemes[0];
  const p = manifest.plans.foreground_intensity_properties_per_channel['0'];
  let normalised = crop.channels[0];
  if (scheme === 'ZScoreNormalization') normalised = zscoreNormalize(core, normalised, mask);
  if (scheme === 'CTNormalization') {
    normalised = ctNormalize(
      core,
      normalised,
      { mean: p.mean, std: p.std, p00_5: p.percentile_00_5, p99_5: p.percentile_99_5 },
      mask,
    );
  }
  const perm = modelAxes(manifest.plans.transpose_forward, shape, manifest.inference.array_axes);
  return {
    box: crop.box,
    data: permute3(normalised, crop.shape, perm),
    shape: permuteTuple(crop.shape, perm),
  };
}

function assertSameAsWholeVolume(
  image: ImageVolume<VoxelArray>,
  manifest: ModelManifest,
  what: string,
): void {
  const want = wholeVolume(Float32Array.from(image.data), image.shape, manifest);
  const leased = core.leasedBytes;
  const got = preprocess(core, image.data, image.shape, image.spacing, manifest);
  try {
    assert.deepEqual(got.box, want.box, `${what}: box`);
    assert.deepEqual(got.shape, want.shape, `${what}: model shape`);
    const plane = got.shape[0] * got.shape[1];
    for (let s = 0; s < got.shape[2]; s++) {
      const slice = got.slice(s);
      const ref = want.data.subarray(s * plane, (s + 1) * plane);
      const differ = slice.findIndex((v, i) => !Object.is(v, ref[i]));
      assert.equal(
        differ,
        -1,
        `${what}: slice ${s} differs at ${differ}: ${slice[differ]} vs ${ref[differ]}`,
      );
    }
  } finally {
    got.release();
  }
  assert.equal(core.leasedBytes, leased, `${what}: the crop's kernel memory came back`);
  assert.throws(() => got.slice(0), /lease used after release/);
}

test('fsB kept as uint8: the shipped z-score with the crop mask, slices as the whole-volume path gives', () => {
  const fsB = read('brain-wm/imagesTr/fsB_0000.nii.gz');
  assert.ok(fsB.data instanceof Uint8Array, fsB.datatype);
  assertSameAsWholeVolume(fsB, shipped, 'fsB');
});

test('a hole in the brain and a crop cut by the volume faces: the filled mask is the whole-volume one', () => {
  const fsB = read('brain-wm/imagesTr/fsB_0000.nii.gz');
  const [nx, ny] = fsB.shape;
  // A slab of 40 sagittal planes through the brain (its box touches both x faces), with a zeroed ball
  // inside the tissue: the hole filling must put it back in the normalisation mask.
  const box = { start: [100, 0, 0] as Shape3, end: [140, ny, fsB.shape[2]] as Shape3 };
  const data = cropVolume(fsB.data as Uint8Array, fsB.shape, box);
  const shape: Shape3 = [40, ny, fsB.shape[2]];
  const [cx, cy, cz] = [20, 128, 128];
  let zeroed = 0;
  for (let z = cz - 6; z <= cz + 6; z++)
    for (let y = cy - 6; y <= cy + 6; y++)
      for (let x = cx - 6; x <= cx + 6; x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 > 36) continue;
        const i = (z * ny + y) * 40 + x;
        if (data[i] !== 0) zeroed++;
        data[i] = 0;
      }
  assert.ok(zeroed > 500, `the ball removed ${zeroed} tissue voxels`);
  assert.notEqual(nx, 40);
  const slab = { ...fsB, shape, data };
  assertSameAsWholeVolume(slab, shipped, 'fsB slab with a hole');
  for (const tf of [
    [0, 2, 1],
    [1, 2, 0],
    [2, 0, 1],
  ]) {
    assertSameAsWholeVolume(slab, variant('ZScoreNormalization', true, tf, 'nnunet'), `slab, axes ${tf}`);
  }
});

test('an MR with its skull (int16, anisotropic): CT and plain normalisation, without the mask, other axes', () => {
  const mr = read('fixtures/mr-aniso/KmeansTest_T1UCharRaw.nii.gz');
  assert.ok(mr.data instanceof Int16Array, mr.datatype);
  assertSameAsWholeVolume(mr, variant('CTNormalization', false, [2, 0, 1]), 'mr-aniso CT');
  assertSameAsWholeVolume(mr, variant('CTNormalization', true, [1, 0, 2], 'nnunet'), 'mr-aniso CT, mask');
  assertSameAsWholeVolume(mr, variant('NoNormalization', false, [0, 1, 2]), 'mr-aniso none');
  assertSameAsWholeVolume(mr, variant('ZScoreNormalization', false, [0, 1, 2]), 'mr-aniso z-score');
});

test('the template as float32 (how the node and the Worker read it), and an all-zero image (kept whole)', () => {
  const mni = read('brain-wm/imagesTr/mni152_0000.nii.gz');
  assertSameAsWholeVolume({ ...mni, data: Float32Array.from(mni.data) }, shipped, 'mni152 float32');
  const empty = { ...mni, shape: [19, 23, 7] as Shape3, data: new Int16Array(19 * 23 * 7) };
  assertSameAsWholeVolume(empty, shipped, 'all zero');
});
