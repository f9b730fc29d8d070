/**
 * @module
 * The cost check the Worker makes before it admits a run (docs/work-bounds.md): the input's
 * declared geometry through the engine's cost model, against the per-request bounds (the nodes
 * apply the same ones) and the tenant's in-flight bound. An input whose header the Worker cannot
 * read cheaply (a zipped series, an upload whose header is not in its first bytes) reserves the
 * per-request maximum; the node checks it exactly before it decodes a voxel.
 */
import {
  DEFAULT_READ_LIMITS,
  LimitError,
  NODE_LIMIT_CODES,
  checkWork,
  estimateWork,
  isDicom,
  readsAsZip,
  maxVoxelsWithin,
  readGeometry,
  zipSliceBytes,
  type DeclaredGeometry,
  type ModelManifest,
  type WorkEstimate,
  type WorkOptions,
} from '../../engine/edge.js';
import type { ApiConfig } from '../config.js';

/** Bytes of an upload read to find its header: NIfTI, PNG and JPEG headers lie well within. */
export const HEADER_PREFIX_BYTES = 64 * 1024;

/**
 * The geometry `bytes` declare, or null when it cannot be read from them without unpacking a
 * zip. `prefix`: the bytes are only the start of the input, so a reader's complaint about the
 * rest (truncation and the like) means "unknown", while a limit the header itself breaks is real.
 */
export function declaredGeometry(bytes: Uint8Array, prefix: boolean): DeclaredGeometry | null {
  if (readsAsZip(bytes)) return null;
  try {
    return readGeometry(bytes, {
      limits: { ...DEFAULT_READ_LIMITS, maxInputBytes: Number.MAX_SAFE_INTEGER },
    });
  } catch (err) {
    if (prefix && !(err instanceof LimitError)) return null;
    throw err;
  }
}

/**
 * The geometry a one-shot's whole body declares. A DICOM file's header is read from its first
 * {@link HEADER_PREFIX_BYTES} only, as an upload's is: dicom-parser holds ~26 bytes of heap for
 * each header byte (engine/io/dicom-parse.ts), and a 32 MiB body would pass the isolate's 128 MB.
 * A DICOM file larger than that prefix is then of unknown geometry: it goes to a node.
 */
export function bodyGeometry(body: Uint8Array): DeclaredGeometry | null {
  if (isDicom(body) && body.length > HEADER_PREFIX_BYTES) {
    return declaredGeometry(body.subarray(0, HEADER_PREFIX_BYTES), true);
  }
  return declaredGeometry(body, false);
}

/**
 * The evaluations to reserve for a request, after refusing (413 `work_too_large`) one over the
 * per-request bounds or, alone, over the tenant's in-flight bound; and the most voxels it can be
 * charged for (`chargeVoxels`, held against the budget): the declared shape's, which a node's answer
 * must match (worker/nodes/remote-run.ts), or, for an input whose header the Worker cannot read, the
 * most the work bounds allow, or fewer when `voxelBound` (a zip's declared slice bytes, at least one
 * a voxel) says so; a node's answer is held to the same count.
 */
export function reserveWork(
  config: ApiConfig,
  manifest: ModelManifest,
  geometry: DeclaredGeometry | null,
  options: WorkOptions,
  voxelBound: number | null = null,
  /** The input's bytes as a node will receive them (engine/pipeline/work.ts counts them held). */
  inputBytes = 0,
): { evaluations: number; estimate: WorkEstimate | null; chargeVoxels: number } {
  if (!geometry) {
    const most = maxVoxelsWithin(config.work);
    return {
      // The per-pass bound, for each pass the release may run.
      evaluations: config.work.maxEvaluations * (manifest.inference.bias_correction ? 2 : 1),
      estimate: null,
      chargeVoxels: voxelBound === null ? most : Math.min(most, voxelBound),
    };
  }
  const chargeVoxels = geometry.shape[0] * geometry.shape[1] * geometry.shape[2];
  const estimate = estimateWork(geometry, manifest, options, inputBytes);
  checkWork(estimate, config.work, manifest.id);
  if (estimate.evaluations > config.maxTenantEvaluations) {
    throw new LimitError(
      NODE_LIMIT_CODES.work,
      `This input implies ${estimate.evaluations} network patch evaluations; a tenant's running requests may imply ${config.maxTenantEvaluations} together.`,
    );
  }
  return { evaluations: estimate.evaluations, estimate, chargeVoxels };
}

/** The most voxels a one-shot zip can hold: its slice files' declared bytes; null when not a zip. */
export function bodyVoxelBound(body: Uint8Array): number | null {
  return readsAsZip(body) ? zipSliceBytes(body) : null;
}

/** Bytes of an upload's end read to find a zip's central directory: 40,000 entries fit. */
export const ZIP_DIRECTORY_BYTES = 4 * 2 ** 20;

/** The same bound for a zip upload in R2 (`head`: its first bytes), read from its last {@link ZIP_DIRECTORY_BYTES}. */
export async function uploadVoxelBound(
  bucket: R2Bucket,
  key: string,
  head: Uint8Array,
): Promise<number | null> {
  if (!readsAsZip(head)) return null;
  const tail = await bucket.get(key, { range: { suffix: ZIP_DIRECTORY_BYTES } });
  if (!tail) return null;
  const bytes = new Uint8Array(await tail.arrayBuffer());
  return zipSliceBytes(bytes, tail.size - bytes.length);
}
