/**
 * @module
 * A label map as .nii.gz, compressed slab by slab: the node sends the mask while it is still being
 * compressed and never holds the whole compressed file. After gunzip the bytes are exactly
 * `writeNifti(like, labels, {datatype: 'uint8'})`.
 */
import { Gzip } from 'fflate';
import type { ImageVolume, PlaneSource, VoxelArray } from '../io/index.js';
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
 * `labels` may be a {@link PlaneSource} (a label map held as its crop): each slab is then expanded
 * only when it is compressed.
 */
export function* niftiGzipChunks(
  like: ImageVolume<VoxelArray>,
  labels: Uint8Array | PlaneSource,
  options: NiftiStreamOptions = {},
): Generator<Uint8Array, void, undefined> {
  const planes = options.planes ?? 8;
  const pending: Uint8Array[] = [];
  const gzip = new Gzip({ level: options.level ?? 6 }, (chunk) => {
    if (chunk.byteLength) pending.push(chunk);
  });
  gzip.push(niftiHeaderBytes(like, labels.length, { datatype: 'uint8' }));
  for (const [slab, last] of slabs(like, labels, planes)) {
    gzip.push(slab, last);
    if (!last) gzip.flush();
    while (pending.length) yield pending.shift()!;
  }
}

/** The uint8 data after the NIfTI header of `labels` (`like`'s grid), uncompressed, slab by slab. */
export function* niftiRawChunks(
  like: ImageVolume<VoxelArray>,
  labels: Uint8Array | PlaneSource,
  options: Pick<NiftiStreamOptions, 'planes'> = {},
): Generator<Uint8Array, void, undefined> {
  yield niftiHeaderBytes(like, labels.length, { datatype: 'uint8' });
  for (const [slab] of slabs(like, labels, options.planes ?? 8)) yield slab;
}

/** Runs of `planes` z-planes of `labels`, each with whether it is the last. */
function* slabs(
  like: ImageVolume<VoxelArray>,
  labels: Uint8Array | PlaneSource,
  planes: number,
): Generator<[Uint8Array, boolean], void, undefined> {
  if (!Number.isInteger(planes) || planes < 1) throw new RangeError(`planes must be ≥ 1, got ${planes}`);
  const plane = like.shape[0] * like.shape[1];
  const nz = labels.length / plane;
  for (let z = 0; z < nz; z += planes) {
    const z1 = Math.min(nz, z + planes);
    const slab = labels instanceof Uint8Array ? labels.subarray(z * plane, z1 * plane) : labels.planes(z, z1);
    yield [slab, z1 === nz];
  }
}
