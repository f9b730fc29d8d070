/**
 * @module
 * One attempt at a run on one inference node (`POST /v1/run`), and the reading of its framed answer.
 * The outcome says whose fault a failure is: the input's (4xx, final) or the node's (retry elsewhere).
 */
import {
  FRAMES_CONTENT_TYPE,
  decodeFrames,
  type RunEnd,
  type RunError,
  type RunMeta,
  type RunProgress,
  runQuery,
  type RunRequest,
} from '../../engine/edge.js';

/** The outcome of starting a run on one node. */
export type RunStart =
  | { kind: 'started'; response: Response }
  | { kind: 'saturated'; retryAfterSeconds: number }
  | { kind: 'rejected'; error: RunError }
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
  | { kind: 'failed'; reason: string };

/** Posts `body` to `node`; a 503 is saturation, other 4xx the request's fault, the rest the node's. */
export async function startRun(
  node: string,
  request: RunRequest & { requestId: string },
  body: ReadableStream<Uint8Array> | Uint8Array,
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
    return { kind: 'saturated', retryAfterSeconds: Number(res.headers.get('retry-after')) || 1 };
  }
  if (res.status >= 400 && res.status < 500 && res.status !== 401 && res.status !== 408) {
    return { kind: 'rejected', error: problemOf(res.status, text) };
  }
  // 401 means the Worker and the node disagree on the token: a deployment fault, not the user's.
  return { kind: 'failed', reason: `node answered ${res.status}` };
}

/** Reads a started run's frames into `sink`; a stream that ends without `end` or `error` is the node's failure. */
export async function readRun(response: Response, sink: RunSink): Promise<RunOutcome> {
  let meta: RunMeta | undefined;
  let bytes = 0;
  try {
    for await (const frame of decodeFrames(response.body!)) {
      switch (frame.type) {
        case 'progress':
          await sink.progress(frame.body);
          break;
        case 'meta':
          meta = frame.body;
          await sink.meta(meta);
          break;
        case 'data':
          bytes += frame.body.byteLength;
          await sink.data(frame.body);
          break;
        case 'error':
          return frame.body.status >= 400 && frame.body.status < 500
            ? { kind: 'rejected', error: frame.body }
            : { kind: 'failed', reason: `node error ${frame.body.code}: ${frame.body.detail}` };
        case 'end':
          if (!meta) return { kind: 'failed', reason: 'end frame before meta' };
          if (frame.body.bytes !== bytes) {
            return {
              kind: 'failed',
              reason: `result has ${bytes} bytes, the node announced ${frame.body.bytes}`,
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
