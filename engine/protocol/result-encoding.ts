/**
 * @module
 * The one encoder of a segmentation result (NIfTI label map, PNG, JSON statistics), shared by the
 * inference node and the Worker's in-isolate runs so that both answer byte for byte alike.
 */
import { encode as encodePng } from 'fast-png';
import { InputError } from '../errors.js';
import type { ImageVolume, VoxelArray } from '../io/index.js';
import { niftiHeaderBytes } from '../io/nifti-write.js';
import type { SegmentResult } from '../pipeline/segment.js';
import { concatBytes } from './bytes.js';
import { labelPalette } from './label-palette.js';
import { niftiGzipChunks } from './nifti-stream.js';

/** Result encodings of a run. */
export type RunFormat = 'nifti' | 'png' | 'json';

/** The media type of each encoding. */
export const RESULT_CONTENT_TYPES: Readonly<Record<RunFormat, string>> = Object.freeze({
  nifti: 'application/gzip',
  png: 'image/png',
  json: 'application/json',
});

/** The JSON summary's ceiling: a few hundred bytes a label, the runtime's description and the timings. */
const MAX_JSON_RESULT_BYTES = 2 ** 20;

/**
 * The most bytes {@link encodeResult} can give for a label map of `shape` (`[nx, ny, nz]`) in
 * `format`, whatever the labels. A receiver refuses a larger answer (worker/nodes/remote-run.ts):
 * no input implies it, so it is a faulty node's, and the Worker would otherwise hold or store it
 * whole. Labels are one byte a voxel; deflate (gzip's and PNG's) stores incompressible data in
 * blocks of at most 64 KiB, 5 bytes of header each (`voxels / 256` covers them); each gzip flush
 * (one a slab of planes) and each PNG row's filter byte fit in 16 bytes a row; the NIfTI header,
 * the gzip, zlib and PNG framing and the palette fit in 64 KiB.
 */
export function maxResultBytes(format: RunFormat, shape: readonly number[]): number {
  if (format === 'json') return MAX_JSON_RESULT_BYTES;
  const [nx, ny, nz] = shape;
  const voxels = nx * ny * nz;
  return voxels + Math.ceil(voxels / 256) + 16 * ny * nz + 64 * 1024;
}

/** Throws `png_needs_2d` when `format` cannot carry `image`'s label map (a PNG is one plane). */
export function checkEncodable(format: RunFormat, image: ImageVolume<VoxelArray>): void {
  if (format === 'png' && image.shape[2] !== 1) {
    throw new InputError('png_needs_2d', `format=png needs a 2D input, got shape [${image.shape}]`);
  }
  // The label map's header is built from the input's before the network runs: a header that could
  // not be written would otherwise fail the run after all its work.
  if (format === 'nifti')
    niftiHeaderBytes(image, image.shape[0] * image.shape[1] * image.shape[2], { datatype: 'uint8' });
}

/**
 * An indexed PNG whose pixel values are the labels (exact for clients) and whose palette shows
 * them: a grey 0/1 PNG looks black in every viewer.
 */
export function labelPng(width: number, height: number, labels: Uint8Array): Uint8Array {
  let max = 0;
  for (const v of labels) if (v > max) max = v;
  return encodePng({ width, height, data: labels, depth: 8, channels: 1, palette: labelPalette(max) });
}

/**
 * The result's bytes in `format`, in pieces as they are produced; `timings` is called once, when
 * the JSON summary is written; `planes` is the z-planes per NIfTI gzip flush.
 */
export function* encodeResult(
  format: RunFormat,
  image: ImageVolume<VoxelArray>,
  result: SegmentResult,
  timings: () => object,
  planes: number,
): Generator<Uint8Array, void, undefined> {
  if (format === 'nifti') {
    yield* niftiGzipChunks(image, result.labelMap, { planes });
  } else if (format === 'png') {
    yield labelPng(image.shape[0], image.shape[1], result.labels);
  } else {
    const summary = {
      labels: result.stats,
      ...(result.biasField && { bias_field: result.biasField }),
      shape: image.shape,
      runtime: result.runtime,
      timings_ms: timings(),
    };
    yield new TextEncoder().encode(JSON.stringify(summary));
  }
}

/** {@link encodeResult}'s pieces in one buffer (an edge run's answer, private mode's label map). */
export function encodeResultBytes(...args: Parameters<typeof encodeResult>): Uint8Array<ArrayBuffer> {
  return concatBytes([...encodeResult(...args)]);
}
