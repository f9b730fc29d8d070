/**
 * @module
 * The tus checksum header and the SHA-256 of chunks (bodies are read by worker/http-body.ts).
 */
import { BadRequestError } from '../http-errors.js';
import { toHex } from './upload-types.js';

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
