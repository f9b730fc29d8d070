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
  RESULT_CONTENT_TYPES,
  type RunFormat,
  type RunEnd,
  type RunError,
  type RunMeta,
  type RunProgress,
  runQuery,
  type RunRequest,
} from '../../engine/edge.js';
import { concatBytes } from '../../engine/protocol/bytes.js';

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
 * How long a node may take to answer a run's request with its headers. A node answers at admission,
 * before it reads the body (queued runs get heartbeats), so a node silent this long is lost or
 * black-holed: the attempt fails and the next node is tried, not the caller's whole deadline spent.
 */
export const NODE_ANSWER_MS = 10_000;

/**
 * Longest silence inside a started run's frame stream. A node sends its last progress again every
 * two seconds for the whole run (engine/server/node-run.ts), so this is a node that stalled or lost
 * its connection without closing it.
 */
export const NODE_IDLE_MS = 30_000;

/** Most bytes read of a node's answer that is not a frame stream (a 503, a proxy's error page). */
export const MAX_NODE_ERROR_BYTES = 64 * 1024;

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
  answerMs = NODE_ANSWER_MS,
): Promise<RunStart> {
  const query = runQuery(request);
  // The caller's signal governs the whole run, the answer timeout only the wait for the headers.
  const attempt = new AbortController();
  const follow = (): void => attempt.abort(signal.reason);
  if (signal.aborted) follow();
  else signal.addEventListener('abort', follow, { once: true });
  const silent = setTimeout(() => attempt.abort(new Error('no answer')), answerMs);
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
      signal: attempt.signal,
    });
  } catch (err) {
    signal.removeEventListener('abort', follow);
    if (signal.aborted) throw err;
    if (attempt.signal.aborted) return { kind: 'failed', reason: `no answer within ${answerMs} ms` };
    return { kind: 'failed', reason: `unreachable: ${String(err)}` };
  } finally {
    clearTimeout(silent);
  }
  if (res.status === 200 && (res.headers.get('content-type') ?? '').startsWith(FRAMES_CONTENT_TYPE)) {
    return { kind: 'started', response: res };
  }
  // The refusal's body is read under the caller's signal and the answer timeout again: a node
  // that sends a 503's headers and then nothing must not hold the attempt.
  const stalled = setTimeout(() => attempt.abort(new Error('no answer')), answerMs);
  let text: string;
  try {
    text = await readCapped(res, MAX_NODE_ERROR_BYTES);
  } finally {
    clearTimeout(stalled);
    signal.removeEventListener('abort', follow);
  }
  if (signal.aborted) throw signal.reason;
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
export async function readRun(
  response: Response,
  sink: RunSink,
  asked: RunAsked,
  idleMs = NODE_IDLE_MS,
): Promise<RunOutcome> {
  let meta: RunMeta | undefined;
  let bytes = 0;
  let maxBytes = 0;
  try {
    for await (const frame of decodeFrames(response.body!, { idleMs })) {
      switch (frame.type) {
        case 'progress': {
          // Stored in a job's state and shown to its client: only the fields, of the known kinds.
          const p = progressOf(frame.body);
          if (p) await sink.progress(p);
          break;
        }
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
        case 'error': {
          const e = errorOf(frame.body);
          // 408: the node found the Worker's own upload too slow (node-run.ts body pace), the
          // link's fault, not the input's.
          return e.status >= 400 && e.status < 500 && e.status !== 408
            ? refusal(e)
            : { kind: 'failed', reason: `node error ${e.code}: ${e.detail}` };
        }
        case 'end':
          if (!meta) return { kind: 'failed', reason: 'end frame before meta' };
          // A job keeps the end's stats in its state, whose values have a size limit: a charged
          // result must not fail to be saved.
          if (JSON.stringify(frame.body).length > MAX_END_JSON) {
            return { kind: 'failed', reason: `end frame over ${MAX_END_JSON} bytes of JSON` };
          }
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

/** Most JSON an end frame may hold (stats, runtime, timings); a real one holds a few KB. */
const MAX_END_JSON = 64 * 1024;
/** Warnings a meta frame may carry, and their length: they go into a header and a job's state. */
const MAX_WARNINGS = 16;
const MAX_WARNING_CHARS = 500;
/** Printable ASCII: what a header value carries as it is (a node's own warnings are English sentences). */
const PRINTABLE = /^[\x20-\x7e]*$/;
const STAGES: ReadonlySet<string> = new Set<RunProgress['stage']>([
  'queued',
  'reading',
  'preprocess',
  'predict',
  'postprocess',
  'encode',
]);

/** A progress frame's fields when they are what a node sends, else null (the frame is dropped). */
function progressOf(p: RunProgress): RunProgress | null {
  const count = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;
  if (p === null || typeof p !== 'object' || !STAGES.has(p.stage) || !count(p.done) || !count(p.total))
    return null;
  return { stage: p.stage, done: p.done, total: p.total };
}

/** A node's error frame as the Worker passes it on: a short code token and a bounded detail. */
function errorOf(e: RunError): RunError {
  const status = e !== null && typeof e === 'object' && Number.isInteger(e.status) ? e.status : 502;
  const code = typeof e?.code === 'string' && /^[a-z][a-z0-9_]{0,63}$/.test(e.code) ? e.code : 'node_error';
  const detail = typeof e?.detail === 'string' ? e.detail.slice(0, 1000) : 'The node gave no detail.';
  return { status, code, detail };
}

/** Up to `max` bytes of `res`'s body as text; the rest is cancelled, never read. */
export async function readCapped(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let length = 0;
  try {
    while (length < max) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
      length += value.byteLength;
    }
  } catch {
    // A broken answer: what arrived is all there is.
  } finally {
    reader.cancel().catch(() => {});
  }
  const bytes = concatBytes(parts).subarray(0, max);
  return new TextDecoder().decode(bytes);
}

/** Why a node's meta frame cannot describe the input of `asked`, or null when it can. */
function metaFault(meta: RunMeta, asked: RunAsked): string | null {
  // The Worker answers with this type and a job stores it: a node's own string would go into a header.
  if (meta.content_type !== RESULT_CONTENT_TYPES[asked.format]) {
    return `meta with content type ${JSON.stringify(meta.content_type)} for a ${asked.format} answer`;
  }
  const { warnings } = meta;
  if (
    warnings !== undefined &&
    !(
      Array.isArray(warnings) &&
      warnings.length <= MAX_WARNINGS &&
      warnings.every((w) => typeof w === 'string' && w.length <= MAX_WARNING_CHARS && PRINTABLE.test(w))
    )
  ) {
    return 'meta with warnings that are not a short list of printable sentences';
  }
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
