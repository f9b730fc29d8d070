/**
 * @module
 * The 413 codes of the limits a node's settings set: its read limits (`--max-input-mb` and the rest
 * of engine/io/limits.ts's ReadLimits) and its work bounds (engine/pipeline/work.ts). Nodes need not
 * share these, so the Worker takes a node's 413 with one of them as "over that node's limits" and
 * tries the next node (worker/nodes/remote-run.ts); any other 413 (a zip's file count, a JPEG's
 * scans: limits every node has) is the input's answer. The node throws these constants and the
 * Worker reads them, so neither side can rename one alone.
 */

/** Each settings limit's problem code. */
export const NODE_LIMIT_CODES = {
  /** `maxInputBytes`: the body as received. */
  inputBytes: 'input_too_large',
  /** `maxDecompressedBytes`: a gzip, zlib or zip stream once inflated. */
  decompressedBytes: 'decompressed_too_large',
  /** `maxVoxels`: the image's voxels, all channels together. */
  voxels: 'too_many_voxels',
  /** `maxDimension`: the extent of one axis. */
  dimension: 'dimension_too_large',
  /** The work bounds: network evaluations and working memory after resampling, tiling and TTA. */
  work: 'work_too_large',
} as const;

/** A settings limit's problem code. */
export type NodeLimitCode = (typeof NODE_LIMIT_CODES)[keyof typeof NODE_LIMIT_CODES];

const CODES: ReadonlySet<string> = new Set(Object.values(NODE_LIMIT_CODES));

/** Whether `code` names a limit a node's settings set (another node may take the input). */
export function isNodeLimitCode(code: string): code is NodeLimitCode {
  return CODES.has(code);
}
