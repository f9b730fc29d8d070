/**
 * @module
 * The wire format between the edge Worker and an inference node's `POST /v1/run`: one HTTP response
 * carries progress, the result's bytes and the outcome, so that the mask streams back slab by slab
 * while the Worker keeps the job's progress current. Each frame is a 1-byte type, a 4-byte
 * big-endian payload length and the payload (JSON, or raw bytes for `data`). A response that ends
 * without an `end` or `error` frame means the node died: the Worker retries elsewhere.
 *
 * Runs in Node and workerd alike (no `node:` imports).
 */

import type { LabelStats } from '../postprocessing/label-stats.js';
import { ByteQueue } from './bytes.js';

/** Frame types. */
export const FrameType = { progress: 1, meta: 2, data: 3, end: 4, error: 5 } as const;
export type FrameKind = keyof typeof FrameType;

/** Content type of a framed response. */
export const FRAMES_CONTENT_TYPE = 'application/vnd.nnsam.frames';

/** Largest payload of one frame; larger results are split into several `data` frames. */
export const MAX_FRAME_PAYLOAD = 4 * 2 ** 20;

/** Where the node is with a run. `queued` repeats while it waits for a free slot. */
export interface RunProgress {
  stage: 'queued' | 'reading' | 'preprocess' | 'predict' | 'postprocess' | 'encode';
  done: number;
  total: number;
}

/** Sent once, before the first `data` frame: what the result is. */
export interface RunMeta {
  /** Content type of the result bytes: `application/gzip` (NIfTI .nii.gz), `image/png` or `application/json`. */
  content_type: string;
  /** `[nx, ny, nz]` of the input. */
  shape: number[];
  /** Voxels of the input (what a job is priced on). */
  voxels: number;
  /**
   * Sentences about the input: it plainly does not fit the model's modality (engine/models/modality.ts),
   * or some voxels were NaN or infinite and read as 0 (engine/preprocessing/non-finite.ts); empty otherwise.
   */
  warnings?: string[];
}

/** What ran the model: the node's RuntimeInfo, and the WebGPU adapter's description on a WebGPU node. */
export type RunRuntime = {
  requested?: string;
  provider: string;
  fallbackReason?: string;
  adapter?: string;
  /** Where the slice steps after the network ran (`SliceBackendInfo`): `wasm`, or `webgpu` on a GPU node. */
  slices?: { kind: string; adapter?: string; fallbackReason?: string };
} & Record<string, unknown>;

/** Sent last on success. */
export interface RunEnd {
  /** Bytes of the result, the sum of every `data` payload (checked by the receiver). */
  bytes: number;
  /** The model id and release that ran (the request's reference resolved; absent from older nodes). */
  model?: string;
  model_version?: string;
  stats: LabelStats[];
  runtime: RunRuntime;
  timings_ms: { total: number; model: number; queued: number };
}

/** Sent last on failure: a problem (RFC 9457 fields) whose status says whose fault it is (4xx: the input's). */
export interface RunError {
  status: number;
  code: string;
  detail: string;
}

/** One decoded frame. */
export type Frame =
  | { type: 'progress'; body: RunProgress }
  | { type: 'meta'; body: RunMeta }
  | { type: 'data'; body: Uint8Array }
  | { type: 'end'; body: RunEnd }
  | { type: 'error'; body: RunError };

const KIND_OF: Record<number, FrameKind> = Object.fromEntries(
  Object.entries(FrameType).map(([k, v]) => [v, k as FrameKind]),
);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes one frame. */
export function encodeFrame(frame: Frame): Uint8Array {
  const payload = frame.type === 'data' ? frame.body : encoder.encode(JSON.stringify(frame.body));
  if (payload.byteLength > MAX_FRAME_PAYLOAD) {
    throw new RangeError(`frame payload of ${payload.byteLength} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
  }
  const out = new Uint8Array(5 + payload.byteLength);
  out[0] = FrameType[frame.type];
  new DataView(out.buffer).setUint32(1, payload.byteLength);
  out.set(payload, 5);
  return out;
}

/** A malformed or truncated frame stream. */
export class FrameStreamError extends Error {}

/**
 * Decodes a frame stream as it arrives. Buffers at most one frame (≤ {@link MAX_FRAME_PAYLOAD} + 5
 * bytes). A stream that stops inside a frame throws {@link FrameStreamError}, and so does one that
 * sends nothing for `idleMs` (a node heartbeats through the whole run, engine/server/node-run.ts).
 * A consumer that stops early (a `return` or `break` in its loop, a throw) cancels the stream, so
 * that the sender stops its run instead of waiting for a reader that is gone.
 */
export async function* decodeFrames(
  stream: ReadableStream<Uint8Array>,
  options: { idleMs?: number } = {},
): AsyncGenerator<Frame> {
  const reader = stream.getReader();
  // Reads are kept as they arrive and each byte is copied once, when its frame is complete: joining
  // every read onto the bytes so far would copy a 4 MiB frame that arrives in 64 KiB reads 64 times.
  const pending = new ByteQueue();
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await readWithin(reader, options.idleMs);
      if (done) break;
      pending.push(value);
      for (;;) {
        if (pending.length < 5) break;
        const header = pending.peek(5);
        const length = new DataView(header.buffer, header.byteOffset, 5).getUint32(1);
        const kind = KIND_OF[header[0]];
        if (!kind) throw new FrameStreamError(`unknown frame type ${header[0]}`);
        if (length > MAX_FRAME_PAYLOAD) throw new FrameStreamError(`frame of ${length} bytes is too large`);
        if (pending.length < 5 + length) break;
        pending.take(5);
        const payload = pending.take(length);
        yield kind === 'data'
          ? { type: 'data', body: payload }
          : ({ type: kind, body: JSON.parse(decoder.decode(payload)) } as Frame);
      }
    }
    if (pending.length)
      throw new FrameStreamError(`stream ended inside a frame (${pending.length} bytes left)`);
    finished = true;
  } finally {
    if (!finished) reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** `reader.read()`, failing with {@link FrameStreamError} when nothing arrives for `idleMs`. */
function readWithin(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  idleMs: number | undefined,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  if (idleMs === undefined) return reader.read();
  let fail!: (err: Error) => void;
  const idle = new Promise<never>((_, reject) => (fail = reject));
  const timer = setTimeout(() => fail(new FrameStreamError(`no frame bytes for ${idleMs} ms`)), idleMs);
  return Promise.race([reader.read(), idle]).finally(() => clearTimeout(timer));
}
