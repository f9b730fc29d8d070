/**
 * @module
 * `segment()`: one image through a 2D nnU-Net / nnSAM model in nnU-Net's order
 * (docs/nnunet-inference.md): crop, normalise, transpose, then slice by slice resample, sliding-window predict (mirroring TTA, fold
 * ensemble), resample back, softmax/argmax; then optional level-set refinement, keep-largest
 * post-processing and statistics on the crop, and the label map uncropped only as it is read
 * ({@link LabelMap}). Runtime-agnostic: the caller hands in the kernels, the fold runtimes and
 * where the slice steps after the network run.
 *
 * Memory (docs/nnunet-inference.md, "Memory"): the input may stay in its stored type; the only
 * volume-sized arrays are the normalised crop (kernel memory, released once the slices are
 * predicted) and the crop's labels, besides what the caller asks for (probabilities, refinement).
 */
import { pasteCrop } from '../../wasm/src/crop.js';
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import { computeNewShape, resampleVolume } from '../../wasm/src/resample.js';
import { InputError } from '../errors.js';
import { wasmSliceBackend, type SliceBackend, type SliceBackendInfo } from '../inference/slice-backend.js';
import type { ImageVolume, VoxelArray } from '../io/index.js';
import { classCount, type ModelManifest } from '../models/manifest.js';
import { labelStats, type LabelStats } from '../postprocessing/label-stats.js';
import { refineLabels, refineSettings, type RefineInputs } from '../postprocessing/refine.js';
import { divideField, fieldApplies, fitLogField } from '../preprocessing/bias-field.js';
import { nonFiniteWarnings, zeroNonFinite } from '../preprocessing/non-finite.js';
import {
  invertPermutation,
  permute3,
  planeOf,
  planePixels,
  planeShape,
  samePlane,
  type Plane,
} from '../preprocessing/axes.js';
import { preprocess, type Preprocessed } from '../preprocessing/preprocess.js';
import type { InferenceRuntime, RuntimeInfo } from '../runtime/runtime.js';
import type { LabelMap } from './label-map.js';
import { layoutLabelMap, type ModelLayout } from './model-layout.js';
import { timed } from './pipeline-helpers.js';

/** A progress event: the stage and, while predicting, slices done of total. */
export interface SegmentProgress {
  stage: 'preprocess' | 'predict' | 'postprocess' | 'done';
  done: number;
  total: number;
}

/** Options of {@link segment}. */
export interface SegmentOptions {
  /** Mirroring test-time augmentation (default true, over the manifest's axes). */
  tta?: boolean;
  /**
   * Level-set refinement with the manifest's settings (needs a level-set output). No flag or API
   * option offers it (docs/method.md): bench/refine.ts measures it.
   */
  refine?: boolean;
  /**
   * Also return what refinement starts from ({@link RefineStart}), so that it can be re-run with other
   * settings without the network (bench/refine.ts); needs a level-set output.
   */
  refineInputs?: boolean;
  /** Also return the softmax probabilities in the input geometry. */
  probabilities?: boolean;
  /** Tiles per runtime call (default: the plans' batch size). */
  batch?: number;
  /** Where each slice's steps after the network run (default: the WASM kernels). */
  slices?: SliceBackend;
  /**
   * The manifest's bias-field correction (`inference.bias_correction`), when it declares one: false
   * skips it (default true). The work bounds count its second pass either way.
   */
  biasCorrection?: boolean;
  onProgress?: (p: SegmentProgress) => void;
}

/** The model-layout state refinement starts from; `refineLabels` then `labelsToImage` finish it as segment() does. */
export interface RefineStart {
  inputs: RefineInputs;
  /** Unrefined labels in the model's layout. */
  labels: Uint8Array;
  layout: ModelLayout;
}

/** What {@link segment} returns. */
export interface SegmentResult {
  /** The label map in the input's geometry, held as its crop: stream it with `planes()`. */
  labelMap: LabelMap;
  /**
   * The label map as one array (`[nx, ny, nz]`, x fastest), built from {@link labelMap} on first
   * read: a caller that streams the map never pays for it.
   */
  readonly labels: Uint8Array;
  /** `[classes][voxels]` softmax probabilities in the input geometry, when asked for. */
  probabilities?: Float32Array;
  stats: LabelStats[];
  runtime: RuntimeInfo;
  /** Which implementation ran the slice steps after the network (a GPU one may have fallen back). */
  slices: SliceBackendInfo;
  /** When asked for with `refineInputs`. */
  refineInputs?: RefineStart;
  timings: { totalMs: number; modelMs: number; modelCalls: number };
  /**
   * When the manifest declares a bias-field correction: the fitted field's sd over the fit mask (log
   * units; null when there was too little tissue to fit) and whether it passed the gate, so that this
   * result is the second segmentation, of the corrected image.
   */
  biasField?: { sd: number | null; applied: boolean };
  /** Sentences about the input as it was read (non-finite voxels read as 0); empty when there are none. */
  warnings: string[];
}

/**
 * Segments a single-channel image with `manifest`'s model running on `folds` (one runtime per fold).
 * `image.data` may be float32 or the stored integer type (`readImage`'s `storedType`). A manifest that
 * declares a bias-field correction gets it: the field is fitted through the first segmentation's
 * tissue label and, when it passes the gate, the corrected image is segmented again
 * (engine/preprocessing/bias-field.ts). NaN and infinite voxels of a float32 image are set to 0 in
 * `image.data` itself, and the result's `warnings` say how many.
 */
export async function segment(
  core: KernelCore,
  image: ImageVolume<VoxelArray>,
  manifest: ModelManifest,
  folds: readonly InferenceRuntime[],
  options: SegmentOptions = {},
): Promise<SegmentResult> {
  // NaN and infinite voxels are read as 0, written into the image (engine/preprocessing/non-finite.ts).
  const count = zeroNonFinite(image);
  const result = await segmentFinite(core, image, manifest, folds, options);
  const [nx, ny, nz] = image.shape;
  result.warnings = nonFiniteWarnings(count, nx * ny * nz * (image.channels ?? 1));
  return result;
}

async function segmentFinite(
  core: KernelCore,
  image: ImageVolume<VoxelArray>,
  manifest: ModelManifest,
  folds: readonly InferenceRuntime[],
  options: SegmentOptions,
): Promise<SegmentResult> {
  const spec = manifest.inference.bias_correction;
  if (!spec || options.biasCorrection === false) return segmentOnce(core, image, manifest, folds, options);
  const t0 = performance.now();
  const progress = options.onProgress;
  // Two passes under one bar: each pass's slices are half of it; the first pass's end is not the end.
  const pass = (offset: number, first: boolean) =>
    progress &&
    ((p: SegmentProgress): void => {
      if (p.stage === 'predict') progress({ ...p, done: offset * p.total + p.done, total: 2 * p.total });
      else if (first ? p.stage === 'preprocess' : p.stage !== 'preprocess') progress(p);
    });
  let first: SegmentResult | undefined = await segmentOnce(core, image, manifest, folds, {
    ...options,
    onProgress: pass(0, true),
  });
  const field = fitLogField(image.data, image.shape, first.labels, spec.label);
  const sd = field?.sd ?? null;
  if (!fieldApplies(field, spec)) {
    progress?.({ stage: 'done', done: 1, total: 1 });
    return Object.assign(first, { biasField: { sd, applied: false } });
  }
  const { modelMs, modelCalls } = first.timings;
  // Dropped before the second pass: a suspended async frame keeps its locals, and the first pass's
  // label maps are not in the work bounds' second-pass memory (engine/pipeline/work.ts).
  first = undefined;
  const corrected: ImageVolume<Float32Array> = {
    ...image,
    data: divideField(image.data, image.shape, field),
  };
  const second = await segmentOnce(core, corrected, manifest, folds, {
    ...options,
    onProgress: pass(1, false),
  });
  second.timings.totalMs = performance.now() - t0;
  second.timings.modelMs += modelMs;
  second.timings.modelCalls += modelCalls;
  return Object.assign(second, { biasField: { sd: field.sd, applied: true } });
}

/** One segmentation: {@link segment} without the bias-field correction. */
async function segmentOnce(
  core: KernelCore,
  image: ImageVolume<VoxelArray>,
  manifest: ModelManifest,
  folds: readonly InferenceRuntime[],
  options: SegmentOptions,
): Promise<SegmentResult> {
  const t0 = performance.now();
  if ((image.channels ?? 1) !== 1) {
    throw new InputError('multi_channel', `the model takes one channel, the image has ${image.channels}`);
  }
  const progress = options.onProgress ?? (() => {});
  const plans = manifest.plans;
  const classes = classCount(manifest);
  const logitsOut = manifest.onnx.outputs.find((o) => o.kind === 'segmentation_logits')!;
  const levelsetOut = manifest.onnx.outputs.find((o) => o.kind === 'levelset');
  if ((options.refine || options.refineInputs) && !levelsetOut) {
    throw new InputError('no_levelset', `model ${manifest.id} has no level-set output to refine with`);
  }
  // Refining, or keeping what refinement reads.
  const levelsets = (options.refine === true || options.refineInputs === true) && levelsetOut !== undefined;
  const levelsetChannels = levelsets ? Number(levelsetOut.shape[1]) : 0;

  progress({ stage: 'preprocess', done: 0, total: 1 });
  const pre = preprocess(core, image.data, image.shape, image.spacing, manifest);
  // The model-layout volume is `slices` planes of `cropPlane`; each is resampled to `modelPlane`
  // (the plans' in-plane spacing), predicted there, and resampled back.
  const [cols, rows, slices] = pre.shape;
  const cropPlane: Plane = { rows, cols };
  const target = plans.spacing;
  const [newCols, newRows] = computeNewShape(
    planeShape(cropPlane),
    [pre.spacing[0], pre.spacing[1], 1],
    [target[2], target[1], 1],
  );
  const modelPlane: Plane = { rows: newRows, cols: newCols };

  const clock = { ms: 0, calls: 0 };
  const timedFolds = folds.map((f) => timed(f, clock));
  const backend = options.slices ?? wasmSliceBackend();
  const pixels = planePixels(cropPlane);
  const labelsModel = new Uint8Array(pixels * slices);
  const probabilitiesModel = options.probabilities ? new Float32Array(classes * pixels * slices) : undefined;
  const refineInputs: RefineInputs | undefined = levelsets
    ? {
        shape: pre.shape,
        spacing: pre.spacing,
        probabilities: new Float32Array((classes - 1) * pixels * slices),
        levelsets: new Float32Array((classes - 1) * pixels * slices),
        tau: levelsetOut!.tau ?? 1,
      }
    : undefined;
  try {
    const runner = backend.open({
      core,
      folds: timedFolds,
      predictor: {
        patch: planeOf(plans.patch_size),
        outputs: levelsets ? [logitsOut.name, levelsetOut!.name] : [logitsOut.name],
        outputChannels: levelsets ? [classes, levelsetChannels] : [classes],
        mirrorAxes: options.tta === false ? [] : manifest.inference.mirroring_axes,
        batch: options.batch ?? plans.batch_size,
        tileStep: manifest.inference.tile_step_size,
      },
      output: {
        classes,
        from: modelPlane,
        to: cropPlane,
        order: plans.resampling_fn_probabilities_kwargs.order,
        probabilities: options.probabilities === true || levelsets,
      },
    });
    const dataOrder = plans.resampling_fn_data_kwargs.order;
    for (let s = 0; s < slices; s++) {
      let slice = pre.slice(s);
      if (!samePlane(modelPlane, cropPlane)) {
        // skimage resize semantics, clipped to the slice's range, as the reference does per slice.
        slice = resampleVolume(core, slice, planeShape(cropPlane), planeShape(modelPlane), {
          order: dataOrder,
        });
      }
      const out = await runner.run(slice);
      labelsModel.set(out.labels, s * pixels);
      if (probabilitiesModel) {
        for (let c = 0; c < classes; c++) {
          probabilitiesModel.set(
            out.probabilities!.subarray(c * pixels, (c + 1) * pixels),
            (c * slices + s) * pixels,
          );
        }
      }
      if (refineInputs) {
        for (let c = 1; c < classes; c++) {
          const at = ((c - 1) * slices + s) * pixels;
          refineInputs.probabilities.set(out.probabilities!.subarray(c * pixels, (c + 1) * pixels), at);
          refineInputs.levelsets.set(out.levelsets.subarray((c - 1) * pixels, c * pixels), at);
        }
      }
      progress({ stage: 'predict', done: s + 1, total: slices });
    }
  } finally {
    pre.release();
  }

  progress({ stage: 'postprocess', done: 0, total: 1 });
  const layout: ModelLayout = { shape: pre.shape, perm: pre.perm, box: pre.box, imageShape: image.shape };
  const start = options.refineInputs
    ? { inputs: refineInputs!, labels: labelsModel.slice(), layout }
    : undefined;
  if (options.refine) refineLabels(core, labelsModel, refineInputs!, refineSettings(manifest));
  const labelMap = layoutLabelMap(core, labelsModel, layout, manifest);
  const probabilities = probabilitiesModel && uncropProbabilities(probabilitiesModel, classes, pre, image);
  const stats = labelStats(core, labelsModel, pre.shape, image.spacing, manifest.dataset.labels, {
    perm: pre.perm,
    start: pre.box.start,
  });
  progress({ stage: 'done', done: 1, total: 1 });
  let labels: Uint8Array | undefined;
  const result = {
    labelMap,
    probabilities,
    stats,
    runtime: folds[0].info,
    slices: backend.info,
    refineInputs: start,
    timings: { totalMs: performance.now() - t0, modelMs: clock.ms, modelCalls: clock.calls },
    warnings: [] as string[],
  };
  return Object.defineProperty(result, 'labels', {
    enumerable: true,
    get: () => (labels ??= labelMap.toArray()),
  }) as SegmentResult;
}

/** `[classes][crop voxels]` model-order probabilities as `[classes][image voxels]` in the image's grid. */
function uncropProbabilities(
  model: Float32Array,
  classes: number,
  pre: Preprocessed,
  image: ImageVolume<VoxelArray>,
): Float32Array {
  const back = invertPermutation(pre.perm);
  const n = image.data.length;
  const perClass = model.length / classes;
  const out = new Float32Array(classes * n);
  out.fill(1, 0, n); // background is certain outside the crop
  for (let c = 0; c < classes; c++) {
    const cropped = permute3(model.subarray(c * perClass, (c + 1) * perClass), pre.shape, back);
    pasteCrop(out.subarray(c * n, (c + 1) * n), image.shape, cropped, pre.box);
  }
  return out;
}
