/**
 * @module
 * `segment()`: one image through a 2D nnU-Net / nnSAM model in nnU-Net's order (DESIGN.md §2):
 * crop, normalise, transpose, then slab by slab resample, sliding-window predict (mirroring TTA, fold
 * ensemble), resample back, softmax/argmax; then transpose back, uncrop, optional level-set
 * refinement, keep-largest post-processing, statistics. Runtime-agnostic: the caller hands in the
 * kernels and the fold runtimes.
 */
import { pasteCrop } from '../../wasm/src/crop.js';
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import { computeNewShape, resampleVolume, type InterpOrder } from '../../wasm/src/resample.js';
import { InputError } from '../errors.js';
import { SlabPredictor } from '../inference/slab-predictor.js';
import type { ImageVolume } from '../io/index.js';
import { classCount, type ModelManifest } from '../models/manifest.js';
import { applyKeepLargest, keepLargestPlan } from '../postprocessing/keep-largest.js';
import { labelStats, type LabelStats } from '../postprocessing/label-stats.js';
import { applyRefined, DEFAULT_REFINE, fuseLevelset, refineMask } from '../postprocessing/refine.js';
import { slabOutput } from '../postprocessing/slab-output.js';
import { invertPermutation, permute3 } from '../preprocessing/axes.js';
import { preprocess } from '../preprocessing/preprocess.js';
import type { InferenceRuntime, RuntimeInfo } from '../runtime/runtime.js';
import { timed } from './pipeline-helpers.js';

/** A progress event: the stage and, while predicting, slabs done of total. */
export interface SegmentProgress {
  stage: 'preprocess' | 'predict' | 'postprocess' | 'done';
  done: number;
  total: number;
}

/** Options of {@link segment}. */
export interface SegmentOptions {
  /** Mirroring test-time augmentation (default true, over the manifest's axes). */
  tta?: boolean;
  /** Level-set refinement (needs a level-set output). */
  refine?: boolean;
  /** Also return the softmax probabilities in the input geometry. */
  probabilities?: boolean;
  /** Tiles per runtime call (default: the plans' batch size). */
  batch?: number;
  onProgress?: (p: SegmentProgress) => void;
}

/** What {@link segment} returns. */
export interface SegmentResult {
  /** Label map in the input's geometry (`[nx, ny, nz]`, x fastest). */
  labels: Uint8Array;
  /** `[K][voxels]` softmax probabilities in the input geometry, when asked for. */
  probabilities?: Float32Array;
  stats: LabelStats[];
  runtime: RuntimeInfo;
  timings: { totalMs: number; modelMs: number; modelCalls: number };
}

/** Segments a single-channel image with `manifest`'s model running on `folds` (one runtime per fold). */
export async function segment(
  core: KernelCore,
  image: ImageVolume,
  manifest: ModelManifest,
  folds: readonly InferenceRuntime[],
  options: SegmentOptions = {},
): Promise<SegmentResult> {
  const t0 = performance.now();
  if ((image.channels ?? 1) !== 1) {
    throw new InputError('multi_channel', `the model takes one channel, the image has ${image.channels}`);
  }
  const progress = options.onProgress ?? (() => {});
  const plans = manifest.plans;
  const K = classCount(manifest);
  const logitsOut = manifest.onnx.outputs.find((o) => o.kind === 'segmentation_logits')!;
  const lsOut = manifest.onnx.outputs.find((o) => o.kind === 'levelset');
  if (options.refine && !lsOut) {
    throw new InputError('no_levelset', `model ${manifest.id} has no level-set output to refine with`);
  }
  const refine = options.refine === true && lsOut !== undefined;
  const L = refine ? Number(lsOut.shape[1]) : 0;

  progress({ stage: 'preprocess', done: 0, total: 1 });
  const pre = preprocess(core, image.data, image.shape, image.spacing, manifest);
  const [cols, rows, slabs] = pre.shape;
  const target = plans.spacing;
  const [newCols, newRows] = computeNewShape(
    [cols, rows, 1],
    [pre.spacing[0], pre.spacing[1], 1],
    [target[2], target[1], 1],
  );

  const clock = { ms: 0, calls: 0 };
  const timedFolds = folds.map((f) => timed(f, clock));
  const predictor = new SlabPredictor(core, timedFolds, {
    patch: [plans.patch_size[0], plans.patch_size[1]],
    outputs: refine ? [logitsOut.name, lsOut!.name] : [logitsOut.name],
    outputChannels: refine ? [K, L] : [K],
    mirrorAxes: options.tta === false ? [] : manifest.inference.mirroring_axes,
    batch: options.batch ?? plans.batch_size,
    tileStep: manifest.inference.tile_step_size,
  });

  const plane = cols * rows;
  const labelsM = new Uint8Array(plane * slabs);
  const probsM = options.probabilities ? new Float32Array(K * plane * slabs) : undefined;
  const phi = refine ? new Float32Array((K - 1) * plane * slabs) : undefined;
  const voxelMm = Math.min(...pre.spacing);
  const dataOrder = plans.resampling_fn_data_kwargs.order;
  const probOrder = plans.resampling_fn_probabilities_kwargs.order;
  for (let s = 0; s < slabs; s++) {
    let slab = pre.data.subarray(s * plane, (s + 1) * plane);
    if (newCols !== cols || newRows !== rows) {
      slab = resamplePlane(core, slab, cols, rows, newCols, newRows, dataOrder);
    }
    const stacked = await predictor.predict(slab, newRows, newCols);
    const out = slabOutput(
      core,
      stacked,
      predictor.outputChannelCount,
      K,
      [newRows, newCols],
      [rows, cols],
      probOrder,
    );
    labelsM.set(out.labels, s * plane);
    if (probsM)
      for (let c = 0; c < K; c++)
        probsM.set(out.probabilities.subarray(c * plane, (c + 1) * plane), (c * slabs + s) * plane);
    if (phi) {
      for (let c = 1; c < K; c++) {
        const p = out.probabilities.subarray(c * plane, (c + 1) * plane);
        const ls = out.levelsets.subarray((c - 1) * plane, c * plane);
        fuseLevelset(
          p,
          ls,
          phi,
          ((c - 1) * slabs + s) * plane,
          { ...DEFAULT_REFINE, tau: lsOut!.tau ?? 1 },
          voxelMm,
        );
      }
    }
    progress({ stage: 'predict', done: s + 1, total: slabs });
  }

  progress({ stage: 'postprocess', done: 0, total: 1 });
  if (phi) {
    const n = plane * slabs;
    for (let c = 1; c < K; c++) {
      const mask = refineMask(
        core,
        phi.subarray((c - 1) * n, c * n),
        pre.shape,
        pre.spacing,
        DEFAULT_REFINE.iterations,
      );
      applyRefined(labelsM, mask, c);
    }
  }
  const back = invertPermutation(pre.perm);
  const labels = new Uint8Array(image.data.length);
  pasteCrop(labels, image.shape, permute3(labelsM, pre.shape, back), pre.box);
  applyKeepLargest(core, labels, image.shape, keepLargestPlan(manifest.inference.postprocessing));
  let probabilities: Float32Array | undefined;
  if (probsM) {
    const n = image.data.length;
    probabilities = new Float32Array(K * n);
    probabilities.fill(1, 0, n); // background is certain outside the crop
    for (let c = 0; c < K; c++) {
      const cropped = permute3(probsM.subarray(c * plane * slabs, (c + 1) * plane * slabs), pre.shape, back);
      pasteCrop(probabilities.subarray(c * n, (c + 1) * n), image.shape, cropped, pre.box);
    }
  }
  const stats = labelStats(core, labels, image.shape, image.spacing, manifest.dataset.labels);
  progress({ stage: 'done', done: 1, total: 1 });
  return {
    labels,
    probabilities,
    stats,
    runtime: folds[0].info,
    timings: { totalMs: performance.now() - t0, modelMs: clock.ms, modelCalls: clock.calls },
  };
}

/** Resamples one `[rows][cols]` plane (skimage resize semantics, clipped to the plane's range, as the reference does per slice). */
function resamplePlane(
  core: KernelCore,
  slab: Float32Array,
  cols: number,
  rows: number,
  newCols: number,
  newRows: number,
  order: InterpOrder,
): Float32Array {
  return resampleVolume(core, slab, [cols, rows, 1], [newCols, newRows, 1], { order });
}
