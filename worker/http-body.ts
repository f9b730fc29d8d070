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

/**
 * Replaces the request's body with one that records, in `bodyFailed`, a failure of the original,
 * and that fails with 413 `body_too_large` past `capOf(c)` bytes (null: no cap here, the route
 * bounds it). The cap is counted as bytes pass, never by holding them: a body is read only by a
 * route that has checked its caller, so that nobody can make the Worker buffer a body unasked
 * (found by review: hono's bodyLimit read a chunked body whole, up to the cap, before any route).
 */
export function watchBody(capOf: (c: Context<AppEnv>) => number | null): MiddlewareHandler<AppEnv> {
  return async function watchBody(c, next) {
    const source = c.req.raw.body;
    if (source) {
      const cap = capOf(c);
      if (cap !== null && Number(c.req.header('content-length')) > cap) throw bodyTooLarge(cap);
      const reader = source.getReader();
      let total = 0;
      const watched = new ReadableStream<Uint8Array>({
        async pull(controller) {
          let read: ReadableStreamReadResult<Uint8Array>;
          try {
            read = await reader.read();
          } catch (err) {
            c.set('bodyFailed', true);
            controller.error(err);
            return;
          }
          if (read.done) return controller.close();
          total += read.value.byteLength;
          if (cap !== null && total > cap) {
            reader.cancel().catch(() => {});
            controller.error(bodyTooLarge(cap));
            return;
          }
          controller.enqueue(read.value);
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
}

/** How long an error answer waits for a body nobody read to arrive, discarding it. */
export const DRAIN_MS = 1000;

/**
 * Before an error answer, reads the rest of a body no route read, discarding it as it comes, for at
 * most {@link DRAIN_MS} (and no further than `watchBody`'s cap). An answer sent while the client is
 * still sending makes workerd drop the connection, and the client sees a network error instead of
 * the 401 or 404 (found when bodies stopped being read before the routes: Miniflare forwards every
 * body chunked). Nothing is held, and a body that stalls delays its answer by that bound only.
 */
export const drainUnread: MiddlewareHandler<AppEnv> = async function drainUnread(c, next) {
  await next();
  const body = c.req.raw.body;
  // 413: the body is over the cap, and the answer says so at once.
  if (!body || c.req.raw.bodyUsed || body.locked || c.res.status < 400 || c.res.status === 413) return;
  const reader = body.getReader();
  const stop = setTimeout(() => void reader.cancel().catch(() => {}), DRAIN_MS);
  try {
    while (!(await reader.read()).done);
  } catch {
    // Broken off, over the cap or cancelled: the answer goes as it is.
  } finally {
    clearTimeout(stop);
  }
};

function bodyTooLarge(cap: number): LimitError {
  return new LimitError('body_too_large', `A request body may hold at most ${cap} bytes.`);
}

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
    // watchBody's cap throws our own LimitError through the stream.
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
