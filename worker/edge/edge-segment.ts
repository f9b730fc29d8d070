/**
 * @module
 * A one-shot segmentation inside the Worker: when the model is edge-capable and the work the cost
 * model gives is within the edge bounds, it runs here, on the isolate's kernels and the
 * edge runtime (edge-runtime.ts). Anything the edge cannot do (too much work, another edge run going, model file
 * missing or corrupt, out of memory) goes to the nodes; only the input's own faults are answered
 * here.
 *
 * Isolation (docs/work-bounds.md): the isolate serves every other request of this Worker between
 * two JavaScript turns, and a model call is one long turn. So an edge run is small by construction
 * (EDGE_MAX_EVALUATIONS), takes one tile per call, yields to the event loop after each call, and
 * is the only one in its isolate: other requests wait for at most one tile, not for the run.
 */
import {
  AppError,
  LimitError,
  RESULT_CONTENT_TYPES,
  checkEncodable,
  encodeResultBytes,
  modalityWarnings,
  readImage,
  segment,
  type ImageVolume,
  type InferenceRuntime,
  type KernelCore,
  type ReadLimits,
  type RunFormat,
  type WorkEstimate,
  ONE_SHOT_OPTIONS,
} from '../../engine/edge.js';
import type { ApiConfig } from '../config.js';
import { log } from '../log.js';
import { edgeManifest, edgeObjectKey, edgeRuntime, type EdgeManifest } from './edge-runtime.js';

/** What the edge run needs from the request's context. */
export interface EdgeDeps {
  models: R2Bucket;
  config: ApiConfig;
  kernels: () => Promise<KernelCore>;
}

/** One one-shot request, body already read. */
export interface EdgeRequest {
  /** The release to run, `<id>@<version>`. */
  model: string;
  format: RunFormat;
  body: Uint8Array;
  requestId: string;
  /** The cost model's estimate from the header; null (unknown): the nodes take it. */
  estimate: WorkEstimate | null;
}

/** A finished edge run: the encoded result and what to bill. */
export interface EdgeAnswer {
  bytes: Uint8Array<ArrayBuffer>;
  contentType: string;
  voxels: number;
  /** Modality warnings (engine/models/modality.ts), as a node gives them. */
  warnings: string[];
}

// z-planes per gzip flush: the nodes' default, so a NIfTI answer is gzipped as a node gzips it.
const NIFTI_PLANES = 8;

/**
 * Runs `request` in the isolate when it is eligible; null: the nodes take it. Throws the input's
 * own errors (AppError 4xx), which a node would answer the same way.
 */
export async function segmentAtEdge(deps: EdgeDeps, request: EdgeRequest): Promise<EdgeAnswer | null> {
  const manifest = edgeCandidate(deps.config, request);
  if (!manifest || edgeBusy || !withinEdgeWork(deps.config, request.estimate)) return null;
  const budget = Math.min(manifest.edge.max_voxels, deps.config.edgeMaxVoxels);
  edgeBusy = true;
  try {
    const image = readSmall(request.body, budget, deps.config.maxBodyBytes);
    if (!image) return null;
    checkEncodable(request.format, image);
    return await run(deps, request, manifest, image);
  } catch (err) {
    if (err instanceof AppError && err.status < 500) throw err;
    log('warn', 'edge_fallback', {
      request_id: request.requestId,
      model: request.model,
      object: edgeObjectKey(manifest),
      reason: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    });
    return null;
  } finally {
    edgeBusy = false;
  }
}

/** Whether an edge run is going in this isolate (one at a time: see the module notes). */
let edgeBusy = false;

function withinEdgeWork(config: ApiConfig, estimate: WorkEstimate | null): boolean {
  return (
    estimate !== null &&
    estimate.evaluations <= config.edgeWork.maxEvaluations &&
    estimate.peakBytes <= config.edgeWork.maxPeakBytes
  );
}

/** The runtime, handing the event loop back to other requests after every model call. */
function yielding(runtime: InferenceRuntime): InferenceRuntime {
  return {
    info: runtime.info,
    inputName: runtime.inputName,
    outputNames: runtime.outputNames,
    run: async (input, dims) => {
      const out = await runtime.run(input, dims);
      await new Promise((resolve) => setTimeout(resolve, 0));
      return out;
    },
    dispose: () => runtime.dispose(),
  };
}

/** The model's edge manifest when edge runs are on and it is marked; a bad bundled one is logged. */
function edgeCandidate(config: ApiConfig, request: EdgeRequest): EdgeManifest | null {
  if (config.edgeMaxVoxels === 0) return null;
  try {
    return edgeManifest(request.model);
  } catch (err) {
    log('error', 'edge_manifest', {
      request_id: request.requestId,
      model: request.model,
      reason: String(err),
    });
    return null;
  }
}

/**
 * The image when it fits `budget` voxels; null when it does not (or any read limit sized to the
 * budget trips: the node reads it again under its own, larger limits).
 */
function readSmall(body: Uint8Array, budget: number, maxBodyBytes: number): ImageVolume | null {
  const limits: ReadLimits = {
    maxInputBytes: maxBodyBytes,
    // float64 NIfTI or 16-bit RGBA PNG: 8 bytes a voxel, plus headers, extensions and PNG row filters.
    maxDecompressedBytes: budget * 8 + 2 ** 20,
    maxVoxels: budget,
    maxDimension: budget,
  };
  let image: ImageVolume;
  try {
    image = readImage(body, { limits });
  } catch (err) {
    if (err instanceof LimitError) return null;
    throw err;
  }
  const voxels = image.shape[0] * image.shape[1] * image.shape[2] * (image.channels ?? 1);
  return voxels <= budget ? image : null;
}

async function run(
  deps: EdgeDeps,
  request: EdgeRequest,
  manifest: EdgeManifest,
  image: ImageVolume,
): Promise<EdgeAnswer> {
  const runtime = await edgeRuntime(deps.models, manifest);
  const started = performance.now();
  // The same options the nodes run one-shot requests with, one tile per call (module notes).
  const result = await segment(await deps.kernels(), image, manifest, [yielding(runtime)], {
    ...ONE_SHOT_OPTIONS,
    batch: 1,
  });
  const timings = () => ({
    total: Math.round(performance.now() - started),
    model: Math.round(result.timings.modelMs),
    queued: 0,
  });
  return {
    bytes: encodeResultBytes(request.format, image, result, timings, NIFTI_PLANES),
    contentType: RESULT_CONTENT_TYPES[request.format],
    voxels: image.shape[0] * image.shape[1] * image.shape[2],
    warnings: [...modalityWarnings(manifest, image), ...result.warnings],
  };
}
