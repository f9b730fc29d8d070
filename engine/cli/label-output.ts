/**
 * @module
 * How `nnsam segment` writes its label map: the format follows the output name's extension, so a
 * file named .png holds PNG bytes and never NIfTI under the wrong name. NIfTI is written a slab of
 * z-planes at a time from the label map's crop, so neither the full-size map nor the whole file is
 * ever held (docs/nnunet-inference.md, "Memory").
 */
import { InputError } from '../errors.js';
import type { ImageVolume, VoxelArray } from '../io/index.js';
import type { LabelMap } from '../pipeline/label-map.js';
import { niftiGzipChunks, niftiRawChunks } from '../protocol/nifti-stream.js';
import { labelPng } from '../protocol/result-encoding.js';
import { UsageError } from './command.js';
import { wantsGzip, writeOutputChunks } from './files.js';

/** Label-map formats the CLI writes. */
export type LabelOutputFormat = 'nifti' | 'png';

const ACCEPTED = '.nii, .nii.gz or .png';

/** The format `path` names by its extension; a usage error (exit 2) for any other extension. */
export function labelOutputFormat(path: string, option = '-o'): LabelOutputFormat {
  if (path.endsWith('.nii') || path.endsWith('.nii.gz')) return 'nifti';
  if (path.endsWith('.png')) return 'png';
  throw new UsageError(`${option} ${path}: the output name must end in ${ACCEPTED}`);
}

/** Refuses, before any model runs, an input whose label map `format` cannot hold (PNG is one plane). */
export function checkLabelOutput(
  format: LabelOutputFormat,
  path: string,
  image: ImageVolume<VoxelArray>,
): void {
  if (format === 'png' && image.shape[2] !== 1) {
    throw new InputError(
      'png_needs_2d',
      `${path}: a PNG holds one 2D plane, the input has shape [${image.shape}]; name the output .nii or .nii.gz`,
    );
  }
}

/** Writes the label map to `path` in `format`: NIfTI in the input's geometry, or the service's indexed PNG. */
export async function writeLabelOutput(
  format: LabelOutputFormat,
  path: string,
  image: ImageVolume<VoxelArray>,
  labels: LabelMap,
): Promise<void> {
  if (format === 'png') {
    await writeOutputChunks(path, [labelPng(image.shape[0], image.shape[1], labels.toArray())]);
  } else if (wantsGzip(path)) {
    await writeOutputChunks(path, niftiGzipChunks(image, labels));
  } else {
    await writeOutputChunks(path, niftiRawChunks(image, labels));
  }
}
