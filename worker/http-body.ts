/**
 * @module
 * Request bodies: one reader that counts bytes as they come and stops past a cap, and a watch on
 * every body so that one that breaks off (the client hung up, a broken chunked encoding: workerd
 * says "Network connection lost" or "internal error; reference = ...") is our own 400
 * `request_body_incomplete` wherever it is read, instead of an unhandled error.
 */
import { AppError, LimitError } from '../engine/edge.js';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.js';
import { BodyIncompleteError } from './http-errors.js';

/** Replaces the request's body with one that records, in `bodyFailed`, a failure of the original. */
export const watchBody: MiddlewareHandler<AppEnv> = async function watchBody(c, next) {
  const source = c.req.raw.body;
  if (source) {
    const reader = source.getReader();
    const watched = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (err) {
          c.set('bodyFailed', true);
          controller.error(err);
        }
      },
      cancel: (reason) => reader.cancel(reason),
    });
    // The request's signal (a client that hangs up aborts it) must survive the new Request.
    c.req.raw = new Request(c.req.raw, {
      body: watched,
      duplex: 'half',
      signal: c.req.raw.signal,
    } as RequestInit);
  }
  await next();
};

/** Whether the request's body broke off while something read it. */
export function bodyFailed(c: Context<AppEnv>): boolean {
  return c.get('bodyFailed') === true;
}

/**
 * The request's body, read once per request whoever asks first (the JSON middleware or a route),
 * at most `max` bytes (413 `tooLarge` past it).
 */
export async function requestBytes(
  c: Context<AppEnv>,
  max = Number.MAX_SAFE_INTEGER,
  tooLarge = 'body_too_large',
): Promise<Uint8Array<ArrayBuffer>> {
  // Hono keeps promises in bodyCache although its type says values.
  const cache = c.req.bodyCache as Record<string, Promise<ArrayBuffer> | undefined>;
  const cached = cache.arrayBuffer;
  const bytes = cached ? new Uint8Array(await cached) : await readRequestBody(c.req.raw, max, tooLarge);
  if (bytes.byteLength > max)
    throw new LimitError(tooLarge, `This request body may hold at most ${max} bytes.`);
  cache.arrayBuffer ??= Promise.resolve(bytes.buffer);
  return bytes;
}

/** Reads `request`'s body, at most `max` bytes (413 `tooLarge` past it). */
export async function readRequestBody(
  request: Request,
  max = Number.MAX_SAFE_INTEGER,
  tooLarge = 'body_too_large',
): Promise<Uint8Array<ArrayBuffer>> {
  const body = request.body;
  if (!body) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > max) {
        await reader.cancel().catch(() => {});
        throw new LimitError(tooLarge, `This request body may hold at most ${max} bytes.`);
      }
      parts.push(value);
    }
  } catch (err) {
    // The body-limit middleware throws our own LimitError through the stream.
    if (err instanceof AppError) throw err;
    throw new BodyIncompleteError(err);
  }
  return joinBytes(parts, total);
}

/** `parts` as one array of `total` bytes. */
export function joinBytes(parts: readonly Uint8Array[], total: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
