/**
 * @module
 * Image I/O: NIfTI-1/2 (.nii, .nii.gz), PNG, JPEG and uncompressed DICOM in, NIfTI out, all as
 * {@link ImageVolume}s with a RAS+ affine. Runs in Node and workerd (no `node:` imports).
 */
export type {
  DeclaredGeometry,
  Geometry,
  ImageFormat,
  ImageVolume,
  InspectGeometry,
  InspectInput,
  Matrix4,
  NiftiHeaderInfo,
  PlaneSource,
  Shape3,
  Spacing3,
  VoxelArray,
} from './image.js';
export { DEFAULT_READ_LIMITS, resolveLimits, type ReadLimits } from './limits.js';
export { readGeometry, readImage, readsAsZip, type ReadImageOptions } from './read-image.js';
export { readNifti } from './nifti-read.js';
export { parseNiftiHeader, sniffNifti } from './nifti-header.js';
export { bestAffine, qformAffine, sformAffine, baseAffine, affineToQform } from './nifti-affine.js';
export { writeNifti, type WriteNiftiOptions, type WriteDatatype, type WritableArray } from './nifti-write.js';
export { readPng, readJpeg, isPng, isJpeg, type RgbMode } from './png-jpeg.js';
export { readDicomSeries } from './dicom.js';
export { isDicom } from './dicom-parse.js';
export { isZip, readZipEntries, zipSliceBytes } from './zip.js';
export { cropGeometry, resampleGeometry } from './geometry.js';
export { orientationCodes } from './orientation.js';
export { isGzip, inflateLimited, gzipBytes, LimitedInflater } from './gzip.js';
