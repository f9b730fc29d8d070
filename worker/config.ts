/**
 * @module
 * The API's configuration, read once from the Worker's bindings into one typed object.
 */
import { DEFAULT_WORK_LIMITS, type WorkLimits } from '../engine/edge.js';
import { parsePriceTable, type PriceTable } from './billing/price.js';

/** Limits and lifetimes, all in bytes or seconds. */
export interface ApiConfig {
  /** Any request body. */
  maxBodyBytes: number;
  /** One PATCH chunk of a resumable upload. */
  maxChunkBytes: number;
  /** The declared length of a resumable upload. */
  maxUploadBytes: number;
  /** How long an upload and its data live. */
  uploadTtlSeconds: number;
  /** How long a finished job's state and result live. */
  resultTtlSeconds: number;
  /** Wall time a job may take, queueing for a node included, before it fails (uncharged). */
  maxJobSeconds: number;
  /** Jobs and one-shot requests a tenant may have running at once (429 beyond). */
  maxConcurrentJobs: number;
  /** Base URLs of the inference nodes, in the order of preference. */
  inferenceNodes: string[];
  /** Bearer token the nodes expect, if they expect one. */
  nodeToken: string | undefined;
  /** Prices used while KV holds no `prices` table. */
  defaultPrices: PriceTable | null;
  /**
   * Most voxels a one-shot input may have to run inside the Worker (edge-capable models only, and
   * never above the model's own budget); 0: every run goes to the nodes.
   */
  edgeMaxVoxels: number;
  /** Per-request work bounds (docs/work-bounds.md), as the nodes apply them. */
  work: WorkLimits;
  /** Network patch evaluations a tenant's running requests may imply together (429 beyond; 413 for one alone). */
  maxTenantEvaluations: number;
  /** Work bounds of a run inside the Worker; larger ones go to a node. */
  edgeWork: WorkLimits;
  /** Wall time of a one-shot request, node run included; the node is told the same deadline. */
  oneShotSeconds: number;
}

function positiveInt(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new RangeError(`${name} must be a positive integer, got '${value}'`);
  return n;
}

function nonNegativeInt(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`${name} must be a non-negative integer, got '${value}'`);
  return n;
}

function nodeList(value: string | undefined): string[] {
  const nodes = (value ?? '')
    .split(',')
    .map((s) => s.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  for (const n of nodes) {
    if (!/^https?:\/\/[^/\s]+$/.test(n))
      throw new RangeError(`INFERENCE_NODES: '${n}' is not an http(s) origin`);
  }
  return nodes;
}

/**
 * Parses the limits from wrangler vars; defaults: 32 MiB body, 8 MiB chunk, 2 GiB upload, 24 h for
 * uploads and results, 15 min per job, 4 concurrent jobs per tenant, 262144 voxels (512^2) at the edge,
 * the engine's default work bounds per request and four times their evaluations per tenant, 64
 * evaluations and 48 MiB for a run inside the Worker, 120 s per one-shot. Any var may be missing
 * (a deployment's own config need not set it), hence `Partial`.
 */
export function readConfig(env: Partial<Env>): ApiConfig {
  const config: ApiConfig = {
    maxBodyBytes: positiveInt(env.MAX_BODY_BYTES, 32 * 2 ** 20, 'MAX_BODY_BYTES'),
    maxChunkBytes: positiveInt(env.MAX_CHUNK_BYTES, 8 * 2 ** 20, 'MAX_CHUNK_BYTES'),
    maxUploadBytes: positiveInt(env.MAX_UPLOAD_BYTES, 2 * 2 ** 30, 'MAX_UPLOAD_BYTES'),
    uploadTtlSeconds: positiveInt(env.UPLOAD_TTL_SECONDS, 24 * 3600, 'UPLOAD_TTL_SECONDS'),
    resultTtlSeconds: positiveInt(env.RESULT_TTL_SECONDS, 24 * 3600, 'RESULT_TTL_SECONDS'),
    maxJobSeconds: positiveInt(env.MAX_JOB_SECONDS, 900, 'MAX_JOB_SECONDS'),
    maxConcurrentJobs: positiveInt(env.MAX_CONCURRENT_JOBS, 4, 'MAX_CONCURRENT_JOBS'),
    inferenceNodes: nodeList(env.INFERENCE_NODES),
    nodeToken: env.NODE_TOKEN || undefined,
    defaultPrices: env.DEFAULT_PRICES ? parsePriceTable(env.DEFAULT_PRICES) : null,
    edgeMaxVoxels: nonNegativeInt(env.EDGE_MAX_VOXELS, 512 * 512, 'EDGE_MAX_VOXELS'),
    work: {
      maxEvaluations: positiveInt(env.MAX_EVALUATIONS, DEFAULT_WORK_LIMITS.maxEvaluations, 'MAX_EVALUATIONS'),
      maxPeakBytes:
        positiveInt(
          env.MAX_WORK_MEMORY_MB,
          DEFAULT_WORK_LIMITS.maxPeakBytes / 2 ** 20,
          'MAX_WORK_MEMORY_MB',
        ) *
        2 ** 20,
    },
    maxTenantEvaluations: positiveInt(
      env.MAX_TENANT_EVALUATIONS,
      4 * DEFAULT_WORK_LIMITS.maxEvaluations,
      'MAX_TENANT_EVALUATIONS',
    ),
    edgeWork: {
      maxEvaluations: positiveInt(env.EDGE_MAX_EVALUATIONS, 64, 'EDGE_MAX_EVALUATIONS'),
      maxPeakBytes: positiveInt(env.EDGE_MAX_MEMORY_MB, 48, 'EDGE_MAX_MEMORY_MB') * 2 ** 20,
    },
    oneShotSeconds: positiveInt(env.ONE_SHOT_SECONDS, 120, 'ONE_SHOT_SECONDS'),
  };
  if (config.maxChunkBytes > config.maxBodyBytes)
    throw new RangeError('MAX_CHUNK_BYTES exceeds MAX_BODY_BYTES');
  return config;
}
