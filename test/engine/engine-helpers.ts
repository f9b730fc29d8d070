/**
 * @module
 * Shared pieces of the engine's cross-folder tests: the model under test, a small crop of a shared
 * volume, and layout conversion from numpy's nibabel arrays.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readImageFile } from '../../engine/cli/files.js';
import { cropGeometry, writeNifti, type ImageVolume } from '../../engine/io/index.js';
import { ModelRegistry } from '../../engine/models/registry.js';
import { permute3 } from '../../engine/preprocessing/axes.js';
import { nodeRuntimeFactory } from '../../engine/runtime/node-factory.js';
import { cropVolume } from '../../wasm/src/crop.js';

/** The repository root (tests compile to dist/test/engine/). */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const MODELS_DIR = join(REPO, 'models');
/** The trained 2D model the engine tests run (fsB is its validation case). */
export const MODEL_ID = 'brain-wm-2d';
export const FSB_IMAGE = join(REPO, '../shared/data/brain-wm/imagesTr/fsB_0000.nii.gz');
export const FSB_LABEL = join(REPO, '../shared/data/brain-wm/labelsTr/fsB.nii.gz');
/** The shipped model's validation case (never trained on), as its manifest names it. */
export function validationCase(): {
  id: string;
  image: string;
  label: string;
  dice: number;
  int8Dice?: number;
} {
  const manifest = JSON.parse(readFileSync(join(MODELS_DIR, MODEL_ID, 'manifest.json'), 'utf8')) as {
    metrics: { validation_case: string; model_fp32: { dice: number }; model_int8?: { dice: number } };
  };
  const id = manifest.metrics.validation_case;
  return {
    id,
    image: join(REPO, `../shared/data/brain-wm/imagesTr/${id}_0000.nii.gz`),
    label: join(REPO, `../shared/data/brain-wm/labelsTr/${id}.nii.gz`),
    dice: manifest.metrics.model_fp32.dice,
    int8Dice: manifest.metrics.model_int8?.dice,
  };
}

/** A registry over the repository's models with the Node adapters. */
export function testRegistry(): ModelRegistry {
  return new ModelRegistry(MODELS_DIR, nodeRuntimeFactory);
}

/** A fresh temporary folder. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'nnsam-engine-'));
}

/**
 * A slab of fsB: `slices` sagittal slices around the middle (x is the 2D model's slicing axis), written to
 * `dir`, with the label cut the same way.
 */
export async function fsbSlab(
  dir: string,
  slices: number,
): Promise<{ path: string; image: ImageVolume; label: Float32Array }> {
  const full = await readImageFile(FSB_IMAGE);
  const x0 = Math.floor(full.shape[0] / 2) - Math.floor(slices / 2) - 20;
  const box = {
    start: [x0, 0, 0] as [number, number, number],
    end: [x0 + slices, full.shape[1], full.shape[2]] as [number, number, number],
  };
  const geo = cropGeometry(full, box);
  const data = cropVolume(full.data, full.shape, box);
  const path = join(dir, 'fsB-slab.nii.gz');
  writeFileSync(
    path,
    writeNifti(full, data, { shape: geo.shape, affine: geo.affine, gzip: true, datatype: 'float32' }),
  );
  const label = await readImageFile(FSB_LABEL);
  return { path, image: await readImageFile(path), label: cropVolume(label.data, label.shape, box) };
}

/** A numpy C-order `[X, Y, Z]` (nibabel) array in the engine's layout (x fastest). */
export function fromNibabelOrder<T extends Float32Array | Uint8Array>(data: T, shape: readonly number[]): T {
  return permute3(data, [shape[2], shape[1], shape[0]], [2, 1, 0]);
}
