/**
 * @module
 * The cost model (docs/work-bounds.md): from an image's declared geometry and the model's plans,
 * the work {@link segment} would do, computed before anything sized by the input is allocated.
 * nnU-Net's 2D pipeline resamples each slice to the plans' spacing and tiles it with
 * overlapping patches, so a few kilobytes of header can imply hours of network time or gigabytes
 * of memory: the stored size says nothing, the resampled, tiled size says it all.
 *
 * The crop to non-zero is not known from the header, so the whole image is its upper bound.
 */
import { LimitError, InputError } from '../errors.js';
import { NODE_LIMIT_CODES } from '../protocol/node-limits.js';
import type { DeclaredGeometry, InspectInput } from '../io/index.js';
import { classCount, type ModelManifest } from '../models/manifest.js';
import { modelAxes, permuteTuple, planeOf, type Plane } from '../preprocessing/axes.js';

/** What a request asks the pipeline for, as far as it changes the work. */
export interface WorkOptions {
  tta: boolean;
  probabilities?: boolean;
}

/** The work one segmentation implies. */
export interface WorkEstimate {
  /** Voxels of the input (all channels). */
  voxels: number;
  /** Slices the 2D network sees, one after another. */
  slices: number;
  /** One slice after resampling to the plans' spacing, before padding to the patch. */
  plane: Plane;
  /** Sliding-window tiles of one slice. */
  tilesPerSlice: number;
  /** Patch evaluations of the network, all passes: tiles x mirrored copies (TTA) x folds x passes. */
  evaluations: number;
  /** Passes of the network over the image: 2 for a release with a bias-field correction (segment.ts). */
  passes: number;
  /** Working memory of the pipeline at its peak, in bytes (the input as held and decoded included, the model not). */
  peakBytes: number;
}

/** Per-request ceilings on {@link WorkEstimate}. */
export interface WorkLimits {
  /**
   * Most patch evaluations one pass of the network over the image may imply: a release that may
   * segment twice (a bias-field correction) may run twice this, a bound its manifest declares.
   */
  maxEvaluations: number;
  /** Most working memory one request may imply, in bytes. */
  maxPeakBytes: number;
}

/**
 * Defaults for a node and the CLI: 32768 evaluations a pass is about three 256^3 brain volumes of
 * brain-wm-2d with TTA (minutes on two CPU cores), one and a half of a two-fold release; 2 GiB is
 * four times such a volume's peak.
 */
export const DEFAULT_WORK_LIMITS: Readonly<WorkLimits> = Object.freeze({
  maxEvaluations: 32768,
  maxPeakBytes: 2 * 2 ** 30,
});

// Bytes per input voxel besides the input itself, with the crop as large as the image
// (docs/nnunet-inference.md, "Memory"): kernel memory for the hole filling (mask and queue, 5),
// reused for the normalised crop and its mask; the crop mask handed to the normalisation (1); the
// crop's labels (1); the keep-largest mask and result (2); and the full-size label map for a caller
// that reads it whole (1).
const VOLUME_BYTES_PER_VOXEL = 5 + 1 + 1 + 2 + 1;

// The decoded input, in float32: the header does not say the stored type (an 8- or 16-bit one
// kept as stored takes less).
const STORED_BYTES_PER_VOXEL = 4;

/**
 * The work of segmenting an image of `geometry` with `manifest`'s model, from the header alone.
 * `heldBytes`: the input as received (and a zip's inflated files), which the reader holds while it
 * decodes and a node holds for the run. With the 14 bytes a voxel this bounds a NIfTI's decoding
 * too; what it leaves to the read limits is in docs/work-bounds.md.
 */
export function estimateWork(
  geometry: DeclaredGeometry,
  manifest: ModelManifest,
  options: WorkOptions,
  heldBytes = 0,
): WorkEstimate {
  const { shape, spacing } = geometry;
  if (!spacing.every((s) => Number.isFinite(s) && s > 0)) {
    throw new InputError(
      'bad_spacing',
      `voxel spacing must be positive and finite, got [${spacing.join(', ')}] mm`,
    );
  }
  const plans = manifest.plans;
  const perm = modelAxes(plans.transpose_forward, shape, manifest.inference.array_axes ?? 'nibabel');
  const [cols, rows, slices] = permuteTuple(shape, perm);
  const [colMm, rowMm] = permuteTuple(spacing, perm);
  // The pipeline's in-plane resampling (computeNewShape, segment.ts), in floating point so an
  // absurd spacing gives a huge number instead of an allocation.
  const newCols = Math.max(1, Math.round((colMm / plans.spacing[2]) * cols));
  const newRows = Math.max(1, Math.round((rowMm / plans.spacing[1]) * rows));
  const patch = planeOf(plans.patch_size);
  const step = manifest.inference.tile_step_size;
  const tilesPerSlice = windowCount(newRows, patch.rows, step) * windowCount(newCols, patch.cols, step);
  const mirrors = options.tta ? 2 ** manifest.inference.mirroring_axes.length : 1;
  const folds = manifest.inference.folds.length;
  // A declared bias-field correction may segment twice (segment.ts): bounded as if it always did.
  const passes = manifest.inference.bias_correction ? 2 : 1;
  const evaluations = tilesPerSlice * slices * mirrors * folds * passes;

  const classes = classCount(manifest);
  const voxels = shape[0] * shape[1] * shape[2] * geometry.channels;
  const padded = Math.max(newRows, patch.rows) * Math.max(newCols, patch.cols);
  // One slice in flight: the resampled and padded planes, the accumulator (kernel memory) and its
  // weights per output channel, the unpadded result, and the softmax resampled back to the stored
  // plane (an upper bound: the softmax is skipped when nothing reads it).
  const sliceBytes = 4 * padded * (2 + 3 * classes) + 4 * classes * cols * rows;
  let volumeBytes = heldBytes + voxels * (VOLUME_BYTES_PER_VOXEL + STORED_BYTES_PER_VOXEL);
  if (options.probabilities) volumeBytes += 2 * 4 * classes * voxels;
  // The second pass holds the first pass's label map whole and the corrected image in float32.
  if (passes === 2) volumeBytes += (1 + 4) * voxels;
  return {
    voxels,
    slices,
    plane: { rows: newRows, cols: newCols },
    tilesPerSlice,
    evaluations,
    passes,
    peakBytes: volumeBytes + sliceBytes,
  };
}

/**
 * The most voxels an image may have within `limits`, whatever its header: every voxel costs the
 * pipeline at least its volume bytes and one stored byte. What a receiver that could not read the
 * header holds an answer's voxel count to (worker/nodes/remote-run.ts).
 */
export function maxVoxelsWithin(limits: WorkLimits): number {
  return Math.floor(limits.maxPeakBytes / (VOLUME_BYTES_PER_VOXEL + 1));
}

/** Throws 413 `work_too_large`, saying what the input implies and what is allowed, when over a limit. */
export function checkWork(work: WorkEstimate, limits: WorkLimits, model: string): void {
  const what =
    `${work.slices} slice${work.slices === 1 ? '' : 's'} of ${fmt(work.plane.rows)}x${fmt(work.plane.cols)} after resampling to ` +
    `${model}'s spacing`;
  // Per pass: one-pass releases keep issue 10's bound, and a correcting release's second pass is
  // counted where it matters (the tenant's in-flight evaluations, memory).
  const perPass = work.evaluations / work.passes;
  if (!(perPass <= limits.maxEvaluations)) {
    const passes = work.passes === 1 ? '' : ` a pass (${work.passes} passes)`;
    throw new LimitError(
      NODE_LIMIT_CODES.work,
      `This input implies ${fmt(perPass)} network patch evaluations${passes} (${what}); ` +
        `the limit is ${limits.maxEvaluations}. Check the voxel spacing in the header, or send a smaller region.`,
    );
  }
  if (!(work.peakBytes <= limits.maxPeakBytes)) {
    throw new LimitError(
      NODE_LIMIT_CODES.work,
      `This input needs about ${fmt(Math.ceil(work.peakBytes / 2 ** 20))} MiB of working memory ` +
        `(${fmt(work.voxels)} voxels; ${what}); the limit is ${Math.floor(limits.maxPeakBytes / 2 ** 20)} MiB.`,
    );
  }
}

/** nnU-Net's number of sliding-window positions along one axis (at least one: smaller images are padded). */
function windowCount(size: number, patch: number, step: number): number {
  if (size <= patch) return 1;
  return Math.ceil((size - patch) / (patch * step)) + 1;
}

const fmt = (n: number): string => (Number.isSafeInteger(n) ? String(n) : n.toExponential(2));

/** A read hook (`readImage`'s `inspect`) that refuses an input whose work is over `limits`. */
export function workGuard(manifest: ModelManifest, options: WorkOptions, limits: WorkLimits): InspectInput {
  return (geometry, heldBytes) =>
    checkWork(estimateWork(geometry, manifest, options, heldBytes), limits, manifest.id);
}
