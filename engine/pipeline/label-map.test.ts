// The crop-held label map and the post-processing that runs on the crop (docs/nnunet-inference.md,
// "Memory"), against the whole-image computations they replaced, on a real white-matter label map:
// expanding the crop (every axis order) gives the image's map, plane runs included; keep-largest and
// the statistics on the model-order crop are those of the whole image; the streamed NIfTI (gzip and
// raw) is writeNifti's bytes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import { gunzipSync } from 'fflate';
import { labelComponents } from '../../wasm/src/components.js';
import { cropVolume, pasteCrop, type BoundingBox } from '../../wasm/src/crop.js';
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { readImage, writeNifti, type ImageVolume, type Shape3 } from '../io/index.js';
import { applyKeepLargest } from '../postprocessing/keep-largest.js';
import { labelStats } from '../postprocessing/label-stats.js';
import { invertPermutation, permute3, permuteTuple } from '../preprocessing/axes.js';
import { concatBytes } from '../protocol/bytes.js';
import { niftiGzipChunks, niftiRawChunks } from '../protocol/nifti-stream.js';
import { LabelMap } from './label-map.js';

const PERMS: [number, number, number][] = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];

let core: KernelCore;
let label: ImageVolume;
/** fsB's white matter with two labels and stray islands, as a prediction looks before keep-largest. */
let labels: Uint8Array;
/** A box holding every label, with a margin and one face on the volume's edge. */
let box: BoundingBox;
before(async () => {
  core = await sharedKernels();
  const path = new URL('../../../../shared/data/brain-wm/labelsTr/fsB.nii.gz', import.meta.url);
  label = readImage(new Uint8Array(readFileSync(path)));
  const [nx, ny] = label.shape;
  labels = Uint8Array.from(label.data);
  // The right hemisphere becomes label 2, and islands of both labels are scattered in the background.
  for (let i = 0; i < labels.length; i++) if (labels[i] && i % nx >= nx / 2) labels[i] = 2;
  for (let k = 0; k < 40; k++) {
    const [x, y, z] = [30 + ((k * 37) % 190), 30 + ((k * 53) % 190), 40 + ((k * 29) % 150)];
    for (let d = 0; d < 2; d++) labels[((z + d) * ny + y) * nx + x] = 1 + (k % 2);
  }
  box = { start: [20, 0, 25], end: [236, 230, 220] };
  for (let i = 0; i < labels.length; i++) {
    const [x, y, z] = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
    const inside = x >= 20 && x < 236 && y < 230 && z >= 25 && z < 220;
    if (!inside) labels[i] = 0;
  }
});

/** The crop of `full` at `box` in model axis order `perm`. */
function modelCrop(full: Uint8Array, perm: [number, number, number]): { crop: Uint8Array; shape: Shape3 } {
  const ext: Shape3 = [box.end[0] - box.start[0], box.end[1] - box.start[1], box.end[2] - box.start[2]];
  return { crop: permute3(cropVolume(full, label.shape, box), ext, perm), shape: permuteTuple(ext, perm) };
}

test('the crop expands to the image map in every axis order, whole and a run of planes at a time', () => {
  for (const perm of PERMS) {
    const { crop, shape } = modelCrop(labels, perm);
    const map = new LabelMap(label.shape, box, crop, perm);
    assert.equal(map.length, labels.length);
    // What segment() did before: transpose back, paste into a zeroed image.
    const pasted = new Uint8Array(labels.length);
    pasteCrop(pasted, label.shape, permute3(crop, shape, invertPermutation(perm)), box);
    assert.deepEqual(map.toArray(), pasted, `perm ${perm}`);
    assert.deepEqual(pasted, labels);
    const plane = label.shape[0] * label.shape[1];
    for (const [z0, z1] of [
      [0, 3],
      [24, 26],
      [100, 161],
      [219, 256],
    ]) {
      assert.deepEqual(
        map.planes(z0, z1),
        labels.subarray(z0 * plane, z1 * plane),
        `perm ${perm} [${z0}, ${z1})`,
      );
    }
  }
  assert.throws(() => new LabelMap(label.shape, box, new Uint8Array(5), [0, 1, 2]), RangeError);
  assert.throws(() =>
    new LabelMap(label.shape, box, modelCrop(labels, [0, 1, 2]).crop, [0, 1, 2]).planes(250, 257),
  );
});

test('keep-largest and the statistics on the model-order crop are those of the whole image', () => {
  const fg = labels.map((v) => (v ? 1 : 0));
  assert.ok(labelComponents(core, fg, label.shape).count > 10, 'the map has islands to remove');
  const whole = labels.slice();
  const plan = { foreground: true, labels: [1, 2] };
  applyKeepLargest(core, whole, label.shape, plan);
  const wholeStats = labelStats(core, whole, label.shape, label.spacing, { wm_left: 1, wm_right: 2 });
  assert.ok(wholeStats.every((s) => s.voxels > 0));
  for (const perm of [PERMS[0], PERMS[3], PERMS[5]]) {
    const { crop, shape } = modelCrop(labels, perm);
    applyKeepLargest(core, crop, shape, plan);
    assert.deepEqual(
      new LabelMap(label.shape, box, crop, perm).toArray(),
      whole,
      `keep-largest, perm ${perm}`,
    );
    const stats = labelStats(
      core,
      crop,
      shape,
      label.spacing,
      { wm_left: 1, wm_right: 2 },
      {
        perm,
        start: box.start,
      },
    );
    assert.deepEqual(stats, wholeStats, `stats, perm ${perm}`);
  }
});

test("the streamed NIfTI of a crop-held map is writeNifti's, gzipped and raw", () => {
  const perm: [number, number, number] = [2, 1, 0];
  const map = new LabelMap(label.shape, box, modelCrop(labels, perm).crop, perm);
  const want = writeNifti(label, labels, { datatype: 'uint8' });
  const concat = (chunks: Iterable<Uint8Array>): Uint8Array => concatBytes([...chunks]);
  assert.deepEqual(gunzipSync(concat(niftiGzipChunks(label, map, { planes: 7 }))), want);
  assert.deepEqual(concat(niftiRawChunks(label, map, { planes: 13 })), want);
  assert.deepEqual(concat(niftiRawChunks(label, labels)), want);
});
