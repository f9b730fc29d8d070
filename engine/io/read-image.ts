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
import type { ImageVolume } from './image.js';
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
}

/** Reads a NIfTI (.nii/.nii.gz), PNG, JPEG, single DICOM file or zipped DICOM series, sniffing the format from its bytes. */
export function readImage(bytes: Uint8Array, options: ReadImageOptions = {}): ImageVolume {
  const limits = resolveLimits(options.limits);
  const label = options.name ? `${options.name}: ` : '';
  if (!(bytes instanceof Uint8Array)) throw new InputError('bad_input', 'image bytes must be a Uint8Array');
  checkInputBytes(bytes.length, limits);
  try {
    return dispatch(bytes, limits, options.rgb ?? 'luminance');
  } catch (err) {
    if (label && err instanceof Error && !err.message.startsWith(label)) err.message = label + err.message;
    throw err;
  }
}

function dispatch(bytes: Uint8Array, limits: ReadLimits, rgb: RgbMode): ImageVolume {
  if (bytes.length === 0) throw new InputError('empty_input', 'the input is empty');
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
    return readNifti(bytes, limits);
  }
  if (sniffNifti(bytes) !== null) return readNifti(bytes, limits);
  if (isPng(bytes)) return readPng(bytes, limits, rgb);
  if (isJpeg(bytes)) return readJpeg(bytes, limits, rgb);
  if (isDicom(bytes)) return readDicomSeries([bytes], { limits });
  if (isZip(bytes)) return readDicomSeries(readZipEntries(bytes, limits), { limits });
  throw new UnsupportedError(
    'unknown_format',
    'unrecognised image format (expected NIfTI, PNG, JPEG, DICOM or a zip of a DICOM series)',
  );
}
