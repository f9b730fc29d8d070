/**
 * @module
 * Format sniffing: the bytes decide, never the file name (the name only improves messages).
 * gzip → NIfTI inside; NIfTI-1/2 by sizeof_hdr; PNG and JPEG by signature; DICOM by "DICM" at 128;
 * a zip → the DICOM series it holds.
 */
import { InputError, UnsupportedError } from '../errors.js';
import { readDicomSeries } from './dicom.js';
import { isDicom } from './dicom-parse.js';
import { LimitedInflater, isGzip } from './gzip.js';
import type { DeclaredGeometry, ImageVolume, InspectGeometry, InspectInput, VoxelArray } from './image.js';
import { checkInputBytes, resolveLimits, type ReadLimits } from './limits.js';
import { NIFTI2_HEADER_BYTES, sniffNifti } from './nifti-header.js';
import { readNifti } from './nifti-read.js';
import { isJpeg, isPng, readJpeg, readPng, type RgbMode } from './png-jpeg.js';
import { isZip, readZipEntries } from './zip.js';

/** Options of {@link readImage}. */
export interface ReadImageOptions {
  /** File name, for messages only. */
  name?: string;
  limits?: Partial<ReadLimits>;
  /** Colour PNG/JPEG: 'luminance' (default) or 'channels' (see png-jpeg.ts). */
  rgb?: RgbMode;
  /**
   * Sees the declared geometry once the header is read, before the voxels are allocated or
   * decoded, and the bytes held meanwhile, and throws to refuse the input.
   */
  inspect?: InspectInput;
  /**
   * Keep an unscaled 8- or 16-bit integer NIfTI in its stored type instead of widening it to
   * float32 (readNifti's module notes); other inputs are float32 either way.
   */
  storedType?: boolean;
}

/** Reads a NIfTI (.nii/.nii.gz), PNG, JPEG, single DICOM file or zipped DICOM series, sniffing the format from its bytes. */
export function readImage(
  bytes: Uint8Array,
  options?: ReadImageOptions & { storedType?: false },
): ImageVolume;
/** The same; with `storedType` the voxels may stay in the type the file stores. */
export function readImage(bytes: Uint8Array, options: ReadImageOptions): ImageVolume<VoxelArray>;
export function readImage(bytes: Uint8Array, options: ReadImageOptions = {}): ImageVolume<VoxelArray> {
  const limits = resolveLimits(options.limits);
  const label = options.name ? `${options.name}: ` : '';
  if (!(bytes instanceof Uint8Array)) throw new InputError('bad_input', 'image bytes must be a Uint8Array');
  checkInputBytes(bytes.length, limits);
  try {
    return dispatch(
      bytes,
      limits,
      options.rgb ?? 'luminance',
      options.inspect ?? (() => {}),
      options.storedType === true,
    );
  } catch (err) {
    if (label && err instanceof Error && !err.message.startsWith(label)) err.message = label + err.message;
    throw err;
  }
}

function dispatch(
  bytes: Uint8Array,
  limits: ReadLimits,
  rgb: RgbMode,
  inspectInput: InspectInput,
  storedType: boolean,
): ImageVolume<VoxelArray> {
  if (bytes.length === 0) throw new InputError('empty_input', 'the input is empty');
  const inspect: InspectGeometry = (geometry) => inspectInput(geometry, bytes.length);
  if (isGzip(bytes)) {
    const head = new LimitedInflater(bytes, limits.maxDecompressedBytes, 'gzip', 'gzip stream').read(
      NIFTI2_HEADER_BYTES,
    );
    if (sniffNifti(head) === null) {
      throw new UnsupportedError(
        'unknown_format',
        'gzip data that is not NIfTI; only .nii.gz is read compressed',
      );
    }
    return readNifti(bytes, limits, inspect, storedType);
  }
  if (sniffNifti(bytes) !== null) return readNifti(bytes, limits, inspect, storedType);
  if (isPng(bytes)) return readPng(bytes, limits, rgb, inspect);
  if (isJpeg(bytes)) return readJpeg(bytes, limits, rgb, inspect);
  if (isDicom(bytes)) return readDicomSeries([bytes], { limits, inspect });
  if (readsAsZip(bytes)) {
    const files = readZipEntries(bytes, limits);
    const held = files.reduce((sum, f) => sum + f.length, bytes.length);
    return readDicomSeries(files, { limits, inspect: (geometry) => inspectInput(geometry, held) });
  }
  throw new UnsupportedError(
    'unknown_format',
    'unrecognised image format (expected NIfTI, PNG, JPEG, DICOM or a zip of a DICOM series)',
  );
}

/**
 * Whether {@link readImage} reads `bytes` (or the first bytes of a file) as a zipped DICOM series:
 * a zip that no earlier format claims. A DICOM file's free preamble may start like a zip; it is read
 * as DICOM, and the Worker's bounds must see it the same way (worker/jobs/work-check.ts).
 */
export function readsAsZip(bytes: Uint8Array): boolean {
  return (
    isZip(bytes) &&
    !isGzip(bytes) &&
    sniffNifti(bytes) === null &&
    !isPng(bytes) &&
    !isJpeg(bytes) &&
    !isDicom(bytes)
  );
}

/** The sentinel {@link readGeometry} throws from its inspect hook to stop a reader at the header. */
class HeaderRead extends Error {
  constructor(readonly geometry: DeclaredGeometry) {
    super('header read');
  }
}

/**
 * The geometry an image declares, from its header: no voxel is allocated or decoded (a zipped
 * series is unzipped, within the limits, to find its headers). `bytes` may be a prefix of the
 * file when the header lies in it; the reader's own errors come through as they are.
 */
export function readGeometry(
  bytes: Uint8Array,
  options: Omit<ReadImageOptions, 'inspect'> = {},
): DeclaredGeometry {
  try {
    readImage(bytes, {
      ...options,
      inspect: (geometry) => {
        throw new HeaderRead(geometry);
      },
    });
  } catch (err) {
    if (err instanceof HeaderRead) return err.geometry;
    throw err;
  }
  throw new Error('readGeometry: the reader decoded the image without showing its header');
}
