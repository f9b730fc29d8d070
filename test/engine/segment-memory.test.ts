/**
 * segment() on an input kept in its stored type (docs/nnunet-inference.md, "Memory"): the same
 * result as the float32 read, and a memory bound that catches any return of the whole-volume
 * copies. Memory here is counted, not timed: live ArrayBuffer bytes after garbage collection at
 * every progress event, and the kernel module's growth (segment-memory-probe.ts). The process's
 * peak RSS is measured by bench/engine.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cropGeometry, readImage, type ImageVolume, type VoxelArray } from '../../engine/io/index.js';
import type { LoadedModel } from '../../engine/models/registry.js';
import { segment } from '../../engine/pipeline/segment.js';
import type { InferenceRuntime } from '../../engine/runtime/runtime.js';
import { cropVolume } from '../../wasm/src/crop.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { MODEL_ID, REPO, testRegistry, validationCase } from './engine-helpers.js';

const registry = testRegistry();
let model: LoadedModel;
let folds: InferenceRuntime[];
before(async () => {
  model = await registry.load(MODEL_ID);
  folds = await registry.runtimes(MODEL_ID, 'cpu', { threads: 1 });
});
after(() => registry.dispose());

test('a uint8 input kept as stored segments exactly as its float32 read: labels, stats, probabilities', async () => {
  const full = readImage(
    new Uint8Array(readFileSync(`${REPO}../shared/data/brain-wm/imagesTr/fsB_0000.nii.gz`)),
    {
      storedType: true,
    },
  );
  assert.ok(full.data instanceof Uint8Array, full.datatype);
  const box = {
    start: [120, 0, 0] as [number, number, number],
    end: [126, full.shape[1], full.shape[2]] as [number, number, number],
  };
  const stored: ImageVolume<VoxelArray> = {
    ...full,
    ...cropGeometry(full, box),
    data: cropVolume(full.data as Uint8Array, full.shape, box),
  };
  const float = { ...stored, data: Float32Array.from(stored.data) };
  const core = await sharedKernels();
  const options = { tta: false, probabilities: true };
  const a = await segment(core, stored, model.manifest, folds, options);
  const b = await segment(core, float, model.manifest, folds, options);
  assert.deepEqual(a.labels, b.labels);
  assert.deepEqual(a.labels, a.labelMap.toArray());
  assert.ok(a.stats[0].voxels > 1000, `${a.stats[0].voxels} white-matter voxels`);
  assert.deepEqual(a.stats, b.stats);
  assert.deepEqual(a.probabilities, b.probabilities);
  assert.equal(core.leasedBytes, 0);
});

test('memory: the input stays uint8, and besides it only crop-sized arrays and kernel memory are live', () => {
  const probe = fileURLToPath(new URL('./segment-memory-probe.js', import.meta.url));
  const stdout = execFileSync(process.execPath, ['--expose-gc', probe, validationCase().image, '8'], {
    encoding: 'utf8',
  });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
    datatype: string;
    inputBytes: number;
    cropVoxels: number;
    afterRead: number;
    peak: number;
    kernelGrowth: number;
    leasedAfter: number;
    stages: string[];
    compressed: number;
    foreground: number;
  };
  const MiB = 2 ** 20;
  assert.equal(r.datatype, 'uint8');
  assert.equal(r.inputBytes, 256 ** 3, 'the 256^3 volume is held as one byte a voxel');
  assert.deepEqual(r.stages, ['preprocess', 'predict', 'postprocess', 'done']);
  assert.ok(r.foreground > 1000, `${r.foreground} voxels segmented`);
  // After reading, only the voxels: not the file's bytes, nor the inflater's buffers.
  assert.ok(r.afterRead <= r.inputBytes + MiB, `${r.afterRead} bytes live after reading`);
  // A float32 copy of the image (+48 MiB here) or one full-size label map (+16 MiB) breaks this.
  const bound = r.inputBytes + 8 * r.cropVoxels + 4 * MiB;
  assert.ok(r.peak <= bound, `peak live ArrayBuffers ${r.peak} > ${bound} (crop ${r.cropVoxels} voxels)`);
  // Kernel memory never shrinks: one whole-volume kernel call (the 256^3 mask alone is 16 MiB) breaks this.
  assert.ok(r.kernelGrowth <= 5 * r.cropVoxels + 2 * MiB, `kernel memory grew by ${r.kernelGrowth}`);
  assert.equal(r.leasedAfter, 0, 'the crop lease was given back');
  assert.ok(r.compressed > 0);
});
