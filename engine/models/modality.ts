/**
 * @module
 * Warnings, not errors, when an input plainly does not fit the model's imaging modality. A PNG slice
 * of an MRI is a legitimate input, so only clear evidence speaks: JPEG (a lossy camera and radiograph
 * format, not how tomographic slices are exported) into an MR or CT model, 8-bit data into a CT model
 * (Hounsfield units need more than 256 levels), one 2D plane into a 3D model. The caller decides
 * where the lines go (CLI stderr, an API header).
 */
import type { ImageVolume, VoxelArray } from '../io/index.js';
import type { ModelManifest } from './manifest.js';

type ModalityKind = 'MR' | 'CT';

// nnU-Net channel names and the usual MR sequence names; anything else is not judged.
const MR_NAMES = /^(mr|mri|t1|t1w|t1ce|t1c|t1gd|t2|t2w|flair|pd|pdw|dwi|adc|swi|bold)$/;

function kindOf(name: string): ModalityKind | null {
  const n = name.trim().toLowerCase();
  if (n === 'ct') return 'CT';
  return MR_NAMES.test(n) ? 'MR' : null;
}

/** Human-readable warnings for `image` given to `manifest`'s model; empty when nothing is clearly off. */
export function modalityWarnings(manifest: ModelManifest, image: ImageVolume<VoxelArray>): string[] {
  const names = manifest.modality ?? Object.values(manifest.dataset.channel_names);
  const kinds = new Set(names.map(kindOf).filter((k): k is ModalityKind => k !== null));
  const expects = `model ${manifest.id} expects ${names.join(', ')}`;
  const warnings: string[] = [];
  if (image.format === 'jpeg' && kinds.size > 0) {
    warnings.push(
      `the input is a JPEG, the format of photographs and radiographs, but ${expects} ` +
        `(${[...kinds].join('/')} slices come as NIfTI, DICOM or PNG); the mask is likely meaningless`,
    );
  }
  if (kinds.has('CT') && image.datatype === 'uint8') {
    warnings.push(
      `the input has 8-bit intensities, which cannot hold Hounsfield units, but ${expects}; ` +
        `the CT normalisation will be off`,
    );
  }
  if (manifest.configuration.startsWith('3d') && image.shape[2] === 1) {
    warnings.push(
      `the input is one 2D plane, but model ${manifest.id} is a ${manifest.configuration} model ` +
        `that needs neighbouring slices`,
    );
  }
  return warnings;
}
