/**
 * @module
 * One attempt at a run on one inference node (`POST /v1/run`), and the reading of its framed answer.
 * The outcome says whose fault a failure is: the input's (4xx, final), the node's (retry elsewhere),
 * or the input's on that node only (a 413 of a limit the node's settings set: another node may take it).
 */
import {
  FRAMES_CONTENT_TYPE,
  decodeFrames,
  isNodeLimitCode,
  maxResultBytes,
  type RunFormat,
  type RunEnd,
  type RunError,
  type RunMeta,
  type RunProgress,
  runQuery,
  type RunRequest,
} from '../../engine/edge.js';

/**
 * A node's 413 for a limit its settings set (its `--max-input-mb`, its work bounds), which nodes need
 * not share. Another node may take the input; when none does, it is the answer. A 413 for a limit
 * every node has (a zip's file count, a JPEG's scans) is `rejected`, as other input errors are.
 */
export type OverNodeLimit = { kind: 'over_node_limit'; error: RunError };

/** A node's 4xx: over that node's limits, or the input's own fault. */
function refusal(error: RunError): OverNodeLimit | { kind: 'rejected'; error: RunError } {
  return error.status === 413 && isNodeLimitCode(error.code)
    ? { kind: 'over_node_limit', error }
    : { kind: 'rejected', error };
}

/** The outcome of starting a run on one node. */
export type RunStart =
  | { kind: 'started'; response: Response }
  | { kind: 'saturated'; retryAfterSeconds: number }
  | { kind: 'rejected'; error: RunError }
  | OverNodeLimit
  | { kind: 'failed'; reason: string };

/** Where a run's frames go. */
export interface RunSink {
  progress(p: RunProgress): void | Promise<void>;
  meta(m: RunMeta): void | Promise<void>;
  data(bytes: Uint8Array): void | Promise<void>;
}

/** The outcome of reading a started run to its end. */
export type RunOutcome =
  | { kind: 'done'; meta: RunMeta; end: RunEnd }
  | { kind: 'rejected'; error: RunError }
  | OverNodeLimit
  | { kind: 'failed'; reason: string };

/**
 * Posts `body` to `node`; a 503 is saturation, a 413 of a limit the node's settings set is over
 * that node's limits, other 4xx the request's fault (but a release the node lacks), the rest the
 * node's.
 */
export async function startRun(
  node: string,
  request: RunRequest & { requestId: string },
  body: BodyInit,
  token: string | undefined,
  signal: AbortSignal,
): Promise<RunStart> {
  const query = runQuery(request);
  let res: Response;
  try {
    res = await fetch(`${node}/v1/run?${query}`, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/octet-stream',
        'x-request-id': request.requestId,
        ...(token && { Authorization: `Bearer ${token}` }),
      },
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw err;
    return { kind: 'failed', reason: `unreachable: ${String(err)}` };
  }
  if (res.status === 200 && (res.headers.get('content-type') ?? '').startsWith(FRAMES_CONTENT_TYPE)) {
    return { kind: 'started', response: res };
  }
  const text = await res.text().catch(() => '');
  if (res.status === 503) {
    return { kind: 'saturated', retryAfterSeconds: retryAfterOf(res.headers.get('retry-after')) };
  }
  if (res.status >= 400 && res.status < 500 && res.status !== 401 && res.status !== 408) {
    const error = problemOf(res.status, text);
    // The Worker resolved the reference in its own catalog, so a node without that release is
    // behind a deploy, not asked something wrong: another node may have it.
    if (error.code === 'model_not_found')
      return { kind: 'failed', reason: `node lacks the release: ${error.detail}` };
    return refusal(error);
  }
  // 401 means the Worker and the node disagree on the token: a deployment fault, not the user's.
  return { kind: 'failed', reason: `node answered ${res.status}` };
}

/** Longest wait a node's Retry-After may ask for; a job's runner never waits past its deadline either. */
export const MAX_NODE_RETRY_AFTER_S = 60;

/**
 * A saturated node's Retry-After as whole seconds in [1, MAX_NODE_RETRY_AFTER_S]. A node is ours but
 * may be buggy: a negative or zero hint would set a job's alarm in the past (a tight loop of
 * placements), a huge one would leave the job queued long past its deadline.
 */
export function retryAfterOf(header: string | null): number {
  const seconds = Math.ceil(Number(header));
  return Number.isNaN(seconds) ? 1 : Math.min(MAX_NODE_RETRY_AFTER_S, Math.max(1, seconds));
}

/** What the Worker asked a node for, and what it knows of the input, to hold the answer to. */
export interface RunAsked {
  /** The release asked for. */
  id: string;
  version: string;
  format: RunFormat;
  /** The input's `[nx, ny, nz]` as its header declares it, or null when the Worker could not read it. */
  shape: readonly number[] | null;
  /** Most voxels the input may have when `shape` is null: what the work bounds allow (engine/pipeline/work.ts). */
  maxVoxels: number;
  /** Most result bytes the caller takes whatever the input (a one-shot holds its result in memory). */
  maxBytes?: number;
}

/**
 * Reads a started run of `asked` into `sink`; a stream that ends without `end` or `error` is the
 * node's failure, and so is an answer no input of `asked` implies: a meta frame whose shape is not
 * the input's (the charge is computed from it), or more result bytes than that shape can encode to
 * (the Worker would hold or store them).
 */
export async function readRun(response: Response, sink: RunSink, asked: RunAsked): Promise<RunOutcome> {
  let meta: RunMeta | undefined;
  let bytes = 0;
  let maxBytes = 0;
  try {
    for await (const frame of decodeFrames(response.body!)) {
      switch (frame.type) {
        case 'progress':
          await sink.progress(frame.body);
          break;
        case 'meta': {
          const wrong = metaFault(frame.body, asked);
          if (wrong) return { kind: 'failed', reason: wrong };
          meta = frame.body;
          maxBytes = Math.min(maxResultBytes(asked.format, meta.shape), asked.maxBytes ?? Infinity);
          await sink.meta(meta);
          break;
        }
        case 'data':
          if (!meta) return { kind: 'failed', reason: 'data frame before meta' };
          bytes += frame.body.byteLength;
          if (bytes > maxBytes) {
            return {
              kind: 'failed',
              reason: `result over ${maxBytes} bytes, the most a ${asked.format} answer of shape [${meta.shape.join(', ')}] takes`,
            };
          }
          await sink.data(frame.body);
          break;
        case 'error':
          // 408: the node found the Worker's own upload too slow (node-run.ts body pace), the
          // link's fault, not the input's.
          return frame.body.status >= 400 && frame.body.status < 500 && frame.body.status !== 408
            ? refusal(frame.body)
            : { kind: 'failed', reason: `node error ${frame.body.code}: ${frame.body.detail}` };
        case 'end':
          if (!meta) return { kind: 'failed', reason: 'end frame before meta' };
          // An empty result is no result: never charged as one.
          if (bytes === 0) return { kind: 'failed', reason: 'end frame with an empty result' };
          if (frame.body.bytes !== bytes) {
            return {
              kind: 'failed',
              reason: `result has ${bytes} bytes, the node announced ${frame.body.bytes}`,
            };
          }
          // A node names the release it ran (older nodes do not, and ran the one asked for); another
          // release's result is not what the tenant is charged for.
          if (
            (frame.body.model !== undefined && frame.body.model !== asked.id) ||
            (frame.body.model_version !== undefined && frame.body.model_version !== asked.version)
          ) {
            return {
              kind: 'failed',
              reason: `ran ${frame.body.model}@${frame.body.model_version}, asked ${asked.id}@${asked.version}`,
            };
          }
          return { kind: 'done', meta, end: frame.body };
      }
    }
  } catch (err) {
    return { kind: 'failed', reason: `stream broke: ${String(err)}` };
  }
  return { kind: 'failed', reason: 'stream ended before the run finished' };
}

/** Why a node's meta frame cannot describe the input of `asked`, or null when it can. */
function metaFault(meta: RunMeta, asked: RunAsked): string | null {
  const { shape, voxels } = meta;
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((n) => Number.isSafeInteger(n) && n > 0)) {
    return `meta with shape ${JSON.stringify(shape)}`;
  }
  // The charge is computed from these voxels: a count that is not the shape's would charge for
  // another input, and one that is not a whole number would make pricing throw on every retry.
  if (voxels !== shape[0] * shape[1] * shape[2]) {
    return `meta with voxels ${String(voxels)} for shape [${shape.join(', ')}]`;
  }
  if (asked.shape ? shape.some((n, i) => n !== asked.shape![i]) : voxels > asked.maxVoxels) {
    return `meta with shape [${shape.join(', ')}], the input ${
      asked.shape ? `declares [${asked.shape.join(', ')}]` : `may have ${asked.maxVoxels} voxels at most`
    }`;
  }
  return null;
}

function problemOf(status: number, text: string): RunError {
  try {
    const p = JSON.parse(text) as { type?: string; detail?: string };
    const code = p.type?.split('/').pop();
    if (code && p.detail) return { status, code, detail: p.detail };
  } catch {
    // not problem+json: fall through
  }
  return { status, code: 'invalid_input', detail: text.slice(0, 300) || `node answered ${status}` };
}
