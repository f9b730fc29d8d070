/**
 * Inputs and references of the job tests: real shared volumes, and the engine run directly on them
 * (the same runtime the nodes use), which a job's label map must equal.
 */
import { readFileSync } from 'node:fs';
import { readImage, writeNifti, type ImageVolume } from '../../engine/io/index.js';
import { segment } from '../../engine/pipeline/segment.js';
import { cliRegistry } from '../../engine/cli/models-root.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { SHARED_DATA } from '../support/goldens.js';

/** The prices the job tests run under (wrangler's DEFAULT_PRICES form). */
export const PRICES = {
  currency: 'USD',
  models: { 'brain-wm-2d': { base_micros: 10_000, per_megavoxel_micros: 2_000 } },
};

/** Micro-units charged for `voxels` with {@link PRICES} (base + rate x megavoxels, half up). */
export const priceOf = (voxels: number) =>
  PRICES.models['brain-wm-2d'].base_micros +
  Math.floor((PRICES.models['brain-wm-2d'].per_megavoxel_micros * voxels + 500_000) / 1_000_000);

/** fsB, the whole 256^3 volume, as shared. */
export const FSB = new Uint8Array(readFileSync(`${SHARED_DATA}brain-wm/imagesTr/fsB_0000.nii.gz`));
/** brain-wm-2d's current release (read: a new release replaces models/brain-wm-2d/). */
export const CURRENT_WM = (
  JSON.parse(readFileSync(new URL('../../../models/brain-wm-2d/manifest.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;
/** A 2D T1 slice (PNG). */
export const SLICE = new Uint8Array(readFileSync(`${SHARED_DATA}fixtures/mr-aniso/BrainT1Slice.png`));

/** A slab of fsB: `slices` planes along axis 0 (the model's slicing axis) around the centre, as .nii.gz. */
export function fsbSlab(slices: number): Uint8Array {
  const image = readImage(FSB);
  const [nx, ny, nz] = image.shape;
  const x0 = Math.floor((nx - slices) / 2);
  const data = new Float32Array(slices * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < slices; i++)
        data[(k * ny + j) * slices + i] = image.data[(k * ny + j) * nx + x0 + i];
  return writeNifti(image, data, { shape: [slices, ny, nz], gzip: true, datatype: 'float32' });
}

/**
 * The engine's label map for `bytes`, run in this process on onnxruntime-node CPU (1 thread), with
 * the release `model` names (default: brain-wm-2d's current one).
 */
export async function directLabels(
  bytes: Uint8Array,
  tta: boolean,
  model = 'brain-wm-2d',
): Promise<{ image: ImageVolume; labels: Uint8Array }> {
  const registry = cliRegistry(undefined);
  try {
    const release = await registry.load(model);
    const folds = await registry.runtimes(model, 'cpu', { threads: 1 });
    const image = readImage(bytes);
    const result = await segment(await sharedKernels(), image, release.manifest, folds, { tta });
    return { image, labels: result.labels };
  } finally {
    await registry.dispose();
  }
}

/** A returned .nii.gz label map, read by the engine's own NIfTI reader, and its labels as bytes. */
export function labelsOfNiftiGz(bytes: Uint8Array): { image: ImageVolume; labels: Buffer } {
  const image = readImage(bytes);
  return { image, labels: Buffer.from(Uint8Array.from(image.data)) };
}
