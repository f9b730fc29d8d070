/**
 * @module
 * The one reader of request bodies: counts bytes as they come and stops past a cap, and turns a
 * body that breaks off (the client hung up: workerd's "Network connection lost") into our own
 * 400 `request_body_incomplete` instead of an unhandled error.
 */
import { AppError, LimitError } from '../engine/errors.js';
import { BodyIncompleteError } from './http-errors.js';

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
  const reader = body.getReader();
  try {
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
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
