/**
 * @module
 * Reading one PATCH body within the chunk cap, and the tus checksum header.
 */
import { LimitError } from '../../engine/errors.js';
import { BadRequestError } from '../http-errors.js';
import { toHex } from './upload-types.js';

/** Reads a request body of at most `max` bytes; stops reading and throws 413 `chunk_too_large` past it. */
export async function readChunk(body: ReadableStream<Uint8Array> | null, max: number): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw new LimitError('chunk_too_large', `A chunk may hold at most ${max} bytes.`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** The hex SHA-256 named by an `Upload-Checksum: sha256 <base64>` header (tus checksum extension). */
export function parseChecksumHeader(value: string): string {
  const m = /^sha256 ([A-Za-z0-9+/]{43}=)$/.exec(value.trim());
  if (!m) throw new BadRequestError("Upload-Checksum must be 'sha256 <base64 of the chunk's SHA-256>'.");
  const bytes = Uint8Array.from(atob(m[1]), (ch) => ch.charCodeAt(0));
  return toHex(bytes.buffer);
}

/** Hex SHA-256 of bytes. */
export async function sha256OfBytes(bytes: Uint8Array): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', bytes));
}
