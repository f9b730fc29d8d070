/**
 * @module
 * The API's configuration, read once from the Worker's bindings into one typed object.
 */
import type { Bindings } from './app-env.js';

/** Limits and lifetimes, all in bytes or seconds. */
export interface ApiConfig {
  /** Any request body. */
  maxBodyBytes: number;
  /** One PATCH chunk of a resumable upload. */
  maxChunkBytes: number;
  /** The declared length of a resumable upload. */
  maxUploadBytes: number;
  /** How long an upload and its data live. */
  uploadTtlSeconds: number;
}

function positiveInt(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new RangeError(`${name} must be a positive integer, got '${value}'`);
  return n;
}

/** Parses the limits from wrangler vars; defaults: 32 MiB body, 8 MiB chunk, 2 GiB upload, 24 h. */
export function readConfig(env: Bindings): ApiConfig {
  const config: ApiConfig = {
    maxBodyBytes: positiveInt(env.MAX_BODY_BYTES, 32 * 2 ** 20, 'MAX_BODY_BYTES'),
    maxChunkBytes: positiveInt(env.MAX_CHUNK_BYTES, 8 * 2 ** 20, 'MAX_CHUNK_BYTES'),
    maxUploadBytes: positiveInt(env.MAX_UPLOAD_BYTES, 2 * 2 ** 30, 'MAX_UPLOAD_BYTES'),
    uploadTtlSeconds: positiveInt(env.UPLOAD_TTL_SECONDS, 24 * 3600, 'UPLOAD_TTL_SECONDS'),
  };
  if (config.maxChunkBytes > config.maxBodyBytes)
    throw new RangeError('MAX_CHUNK_BYTES exceeds MAX_BODY_BYTES');
  return config;
}
