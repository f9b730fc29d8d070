/**
 * @module
 * Resource limits for image reading. Every reader checks sizes against these *before* it allocates
 * a buffer whose size comes from the input, so a hostile header or a gzip bomb fails fast with a
 * {@link LimitError} instead of exhausting memory (workerd isolates have 128 MB).
 */
import { InputError, LimitError } from '../errors.js';
import { NODE_LIMIT_CODES } from '../protocol/node-limits.js';

/** Size limits applied while reading one image (or one DICOM series). */
export interface ReadLimits {
  /** Largest accepted input, in bytes, as received (compressed or not; a DICOM series: all files together). */
  maxInputBytes: number;
  /** Largest accepted decompressed stream (gzip, PNG zlib data), in bytes. */
  maxDecompressedBytes: number;
  /** Largest number of voxels (all channels together). */
  maxVoxels: number;
  /** Largest extent of any one axis. */
  maxDimension: number;
}

/** Defaults sized for a server: a 512x512x1024 CT fits; workerd callers should pass tighter ones. */
export const DEFAULT_READ_LIMITS: Readonly<ReadLimits> = Object.freeze({
  maxInputBytes: 512 * 1024 * 1024,
  maxDecompressedBytes: 1024 * 1024 * 1024,
  maxVoxels: 512 * 512 * 1024,
  maxDimension: 65536,
});

/** Merges user limits over the defaults, rejecting values that are not positive numbers. */
export function resolveLimits(limits?: Partial<ReadLimits>): ReadLimits {
  const out = { ...DEFAULT_READ_LIMITS, ...(limits ?? {}) };
  for (const key of Object.keys(DEFAULT_READ_LIMITS) as (keyof ReadLimits)[]) {
    const v = out[key];
    if (typeof v !== 'number' || !(v > 0)) {
      throw new InputError('bad_limits', `read limit ${key} must be a positive number, got ${String(v)}`);
    }
  }
  return out;
}

/** Throws `input_too_large` when `bytes` exceeds `maxInputBytes`. */
export function checkInputBytes(bytes: number, limits: ReadLimits): void {
  if (bytes > limits.maxInputBytes) {
    throw new LimitError(
      NODE_LIMIT_CODES.inputBytes,
      `input is ${bytes} bytes; the limit is ${limits.maxInputBytes}`,
    );
  }
}

/**
 * Checks declared extents (each a positive integer, none over `maxDimension`, product within
 * `maxVoxels`) and returns the voxel count. `what` names the source in messages.
 */
export function checkExtents(extents: readonly number[], limits: ReadLimits, what: string): number {
  let count = 1;
  for (const n of extents) {
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new InputError(
        'bad_dimensions',
        `${what}: dimensions must be positive integers, got [${extents.join(', ')}]`,
      );
    }
    if (n > limits.maxDimension) {
      throw new LimitError(
        NODE_LIMIT_CODES.dimension,
        `${what}: dimension ${n} exceeds the limit ${limits.maxDimension}`,
      );
    }
    count *= n;
  }
  if (count > limits.maxVoxels) {
    throw new LimitError(
      NODE_LIMIT_CODES.voxels,
      `${what}: ${count} voxels exceed the limit ${limits.maxVoxels}`,
    );
  }
  return count;
}

/** Throws `decompressed_too_large` when a declared decompressed size exceeds the limit. */
export function checkDecompressedBytes(bytes: number, limits: ReadLimits, what: string): void {
  if (bytes > limits.maxDecompressedBytes) {
    throw new LimitError(
      NODE_LIMIT_CODES.decompressedBytes,
      `${what}: needs ${bytes} decompressed bytes; the limit is ${limits.maxDecompressedBytes}`,
    );
  }
}
