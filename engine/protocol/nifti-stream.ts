/**
 * @module
 * A label map as .nii.gz, compressed slab by slab: the node sends the mask while it is still being
 * compressed and never holds the whole compressed file. After gunzip the bytes are exactly
 * `writeNifti(like, labels, {datatype: 'uint8'})`.
 */
import { Gzip } from 'fflate';
import type { ImageVolume } from '../io/index.js';
import { niftiHeaderBytes } from '../io/nifti-write.js';

/** Options of {@link niftiGzipChunks}. */
export interface NiftiStreamOptions {
  /** z-planes compressed per step (default 8). */
  planes?: number;
  /** Deflate level (default 6, as writeNifti's gzip). */
  level?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
}

/**
 * Yields the compressed bytes of `labels` (uint8, `like`'s grid) as .nii.gz, one batch of chunks
 * per slab of `planes` z-planes; each slab is flushed so its bytes come out before the next one.
 */
export function* niftiGzipChunks(
  like: ImageVolume,
  labels: Uint8Array,
  options: NiftiStreamOptions = {},
): Generator<Uint8Array, void, undefined> {
  const planes = options.planes ?? 8;
  if (!Number.isInteger(planes) || planes < 1) throw new RangeError(`planes must be ≥ 1, got ${planes}`);
  const pending: Uint8Array[] = [];
  const gzip = new Gzip({ level: options.level ?? 6 }, (chunk) => {
    if (chunk.byteLength) pending.push(chunk);
  });
  gzip.push(niftiHeaderBytes(like, labels.length, { datatype: 'uint8' }));
  const step = like.shape[0] * like.shape[1] * planes;
  for (let at = 0; at < labels.length; at += step) {
    const end = Math.min(labels.length, at + step);
    gzip.push(labels.subarray(at, end), end === labels.length);
    if (end < labels.length) gzip.flush();
    while (pending.length) yield pending.shift()!;
  }
}
