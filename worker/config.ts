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

/** The names of the Worker's text vars and secrets (the rest of `Env` are bindings). */
type TextVar = { [K in keyof Env]: Env[K] extends string ? K : never }[keyof Env];

/**
 * The integer in var `name`, at least `min`; `fallback` when it is unset or empty. Decimal digits
 * only: `Number()` alone would also take '0x10' and '1e3', and read a blank value as 0 (which
 * would turn edge runs off without a word).
 */
function intVar(env: Partial<Env>, name: TextVar, fallback: number, min: 0 | 1 = 1): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    const kind = min === 0 ? 'a non-negative' : 'a positive';
    throw new RangeError(`${name} must be ${kind} integer, got '${value}'`);
  }
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
    maxBodyBytes: intVar(env, 'MAX_BODY_BYTES', 32 * 2 ** 20),
    maxChunkBytes: intVar(env, 'MAX_CHUNK_BYTES', 8 * 2 ** 20),
    maxUploadBytes: intVar(env, 'MAX_UPLOAD_BYTES', 2 * 2 ** 30),
    uploadTtlSeconds: intVar(env, 'UPLOAD_TTL_SECONDS', 24 * 3600),
    resultTtlSeconds: intVar(env, 'RESULT_TTL_SECONDS', 24 * 3600),
    maxJobSeconds: intVar(env, 'MAX_JOB_SECONDS', 900),
    maxConcurrentJobs: intVar(env, 'MAX_CONCURRENT_JOBS', 4),
    inferenceNodes: nodeList(env.INFERENCE_NODES),
    nodeToken: env.NODE_TOKEN || undefined,
    defaultPrices: env.DEFAULT_PRICES ? parsePriceTable(env.DEFAULT_PRICES) : null,
    edgeMaxVoxels: intVar(env, 'EDGE_MAX_VOXELS', 512 * 512, 0),
    work: {
      maxEvaluations: intVar(env, 'MAX_EVALUATIONS', DEFAULT_WORK_LIMITS.maxEvaluations),
      maxPeakBytes: intVar(env, 'MAX_WORK_MEMORY_MB', DEFAULT_WORK_LIMITS.maxPeakBytes / 2 ** 20) * 2 ** 20,
    },
    maxTenantEvaluations: intVar(env, 'MAX_TENANT_EVALUATIONS', 4 * DEFAULT_WORK_LIMITS.maxEvaluations),
    edgeWork: {
      maxEvaluations: intVar(env, 'EDGE_MAX_EVALUATIONS', 64),
      maxPeakBytes: intVar(env, 'EDGE_MAX_MEMORY_MB', 48) * 2 ** 20,
    },
    oneShotSeconds: intVar(env, 'ONE_SHOT_SECONDS', 120),
  };
  if (config.maxChunkBytes > config.maxBodyBytes)
    throw new RangeError('MAX_CHUNK_BYTES exceeds MAX_BODY_BYTES');
  return config;
}
