/**
 * @module
 * The tus checksum header and the SHA-256 of chunks (bodies are read by worker/http-body.ts).
 */
import { BadRequestError } from '../http-errors.js';
import { toHex } from './upload-types.js';

/**
 * The hex SHA-256 named by an `Upload-Checksum: sha256 <base64>` header (tus checksum extension);
 * 400 `checksum_algorithm_unsupported` for another algorithm, as tus asks.
 */
export function parseChecksumHeader(value: string): string {
  const [algorithm, digest = ''] = value.trim().split(' ', 2);
  if (algorithm !== 'sha256') {
    throw new BadRequestError(
      `Upload-Checksum algorithm '${algorithm.slice(0, 20)}' is not supported; use sha256.`,
      'checksum_algorithm_unsupported',
    );
  }
  if (!/^[A-Za-z0-9+/]{43}=$/.test(digest))
    throw new BadRequestError("Upload-Checksum must be 'sha256 <base64 of the chunk's SHA-256>'.");
  const bytes = Uint8Array.from(atob(digest), (ch) => ch.charCodeAt(0));
  return toHex(bytes.buffer);
}

/** Hex SHA-256 of bytes. */
export async function sha256OfBytes(bytes: Uint8Array): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', bytes));
}
