/**
 * @module
 * The Worker↔node contract, and only it: what both sides of `POST /v1/run` must agree on. The
 * node (engine/server/) and the Worker (through engine/edge.ts) import it; nothing else crosses.
 * - run-request.ts: the request (query) and the one-shot defaults;
 * - frames.ts: the framed answer (progress, meta, data, end, error);
 * - result-encoding.ts, nifti-stream.ts, label-palette.ts: the result formats;
 * - problem.ts: problem+json bodies and their type base;
 * - node-health.ts: a node's `/healthz` (load, device, adapter, fallback), which placement reads;
 * - node-limits.ts: the 413 codes of limits a node's settings set, which the Worker retries elsewhere.
 */
export * from './frames.js';
export * from './bytes.js';
export * from './run-request.js';
export * from './problem.js';
export {
  checkEncodable,
  encodeResult,
  encodeResultBytes,
  maxResultBytes,
  RESULT_CONTENT_TYPES,
  type RunFormat,
} from './result-encoding.js';
export { niftiGzipChunks, type NiftiStreamOptions } from './nifti-stream.js';
export * from './node-health.js';
export * from './node-limits.js';
