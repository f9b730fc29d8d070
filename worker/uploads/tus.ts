/**
 * @module
 * tus 1.0.0 (https://tus.io/protocols/resumable-upload) as `/v1/uploads` speaks it: the protocol
 * headers every answer carries, the version check, and `Upload-Metadata`, through which a tus client
 * declares what our JSON creation body declares (the whole file's SHA-256 and its media type).
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.js';
import { BadRequestError, HttpError } from '../http-errors.js';

export const TUS_VERSION = '1.0.0';
export const TUS_EXTENSIONS = 'creation,creation-with-upload,termination,checksum,expiration';
/** The media type of every upload body (PATCH, and POST with data). */
export const CHUNK_TYPE = 'application/offset+octet-stream';
/** Longest `Upload-Metadata` kept: it is stored with the upload and answered on every HEAD. */
const MAX_METADATA_CHARS = 4096;
const MEDIA_TYPE = /^[\w.+-]+\/[\w.+-]+$/;

/**
 * Sets `Tus-Resumable` on every answer, errors included, and refuses a request that names another
 * protocol version with 412 and the versions we speak. A request without the header is one of our
 * JSON clients, which keep working.
 */
export const tusHeaders: MiddlewareHandler<AppEnv> = async function tusHeaders(c, next) {
  const asked = c.req.header('Tus-Resumable');
  if (asked !== undefined && asked !== TUS_VERSION && c.req.method !== 'OPTIONS') {
    throw new HttpError(
      'tus_version_unsupported',
      412,
      `This server speaks tus ${TUS_VERSION}, not '${asked.slice(0, 20)}'.`,
      { 'Tus-Resumable': TUS_VERSION, 'Tus-Version': TUS_VERSION },
    );
  }
  await next();
  c.res.headers.set('Tus-Resumable', TUS_VERSION);
};

/** What the creation request declares, from the JSON body or from tus headers. */
export interface UploadDeclaration {
  length: number;
  content_type: string;
  sha256: string | null;
  metadata: string | null;
}

/**
 * The declaration of a tus creation request: `Upload-Length`, and from `Upload-Metadata` the keys
 * `sha256` (hex) and `content_type` or `filetype` (tus-js-client's and Uppy's name); other keys are
 * kept but not read.
 */
export function tusDeclaration(header: (name: string) => string | undefined): UploadDeclaration {
  if (header('Upload-Defer-Length') !== undefined) {
    throw new BadRequestError('Upload-Defer-Length is not supported: declare Upload-Length.');
  }
  const lengthHeader = header('Upload-Length');
  if (lengthHeader === undefined || !/^\d{1,16}$/.test(lengthHeader) || Number(lengthHeader) === 0) {
    throw new BadRequestError('Upload-Length (a positive integer) is required to create an upload.');
  }
  const metadata = header('Upload-Metadata') ?? null;
  const pairs = metadata === null ? new Map<string, string>() : parseMetadata(metadata);
  const sha256 = pairs.get('sha256') ?? null;
  if (sha256 !== null && !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new BadRequestError('Upload-Metadata sha256 must be the lower-case hex SHA-256 of the file.');
  }
  const contentType = pairs.get('content_type') ?? pairs.get('filetype') ?? 'application/octet-stream';
  if (!MEDIA_TYPE.test(contentType)) {
    throw new BadRequestError('Upload-Metadata content_type (or filetype) must be a media type.');
  }
  return { length: Number(lengthHeader), content_type: contentType, sha256, metadata };
}

/** `key base64,key base64,key` into a map of decoded values (a key alone has the value ''). */
export function parseMetadata(header: string): Map<string, string> {
  if (header.length > MAX_METADATA_CHARS) {
    throw new BadRequestError(`Upload-Metadata may hold at most ${MAX_METADATA_CHARS} characters.`);
  }
  const pairs = new Map<string, string>();
  if (header.trim() === '') return pairs;
  for (const item of header.split(',')) {
    const m = /^\s*([\x21-\x2b\x2d-\x7e]+)(?: ([A-Za-z0-9+/]*={0,2}))?\s*$/.exec(item);
    if (!m || pairs.has(m[1])) {
      throw new BadRequestError(
        'Upload-Metadata must be comma-separated `key base64-value` pairs with unique keys.',
      );
    }
    let value = '';
    try {
      value = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(
        Uint8Array.from(atob(m[2] ?? ''), (ch) => ch.charCodeAt(0)),
      );
    } catch {
      throw new BadRequestError(`Upload-Metadata value of '${m[1].slice(0, 40)}' is not base64 of UTF-8.`);
    }
    pairs.set(m[1], value);
  }
  return pairs;
}
