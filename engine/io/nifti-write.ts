/**
 * @module
 * NIfTI writer for derived images (segmentations, probability maps, crops, resamplings).
 *
 * Geometry: when `affine` is the input's own affine, the input's qform/sform codes, quaternion,
 * qoffset, srow and pixdim are copied verbatim, so reading the output gives the identical affine.
 * A new affine (crop, resample) goes into both the sform and a qform re-derived from it like
 * nibabel's `set_qform` (pixdim[1..3] = its column norms); the codes stay the input's, except that
 * an input with both codes 0 (nibabel's base-affine fallback) gets sform_code 2 (aligned) when the
 * new affine is not the base affine of the new grid. Non-NIfTI sources get sform_code 2 and
 * qform_code 0 like nibabel's new images, or 1/1 (scanner) for DICOM.
 *
 * Kept from the input: xyzt_units, descrip, aux_file, intent, dim_info, toffset, pixdim[4..7]
 * and, if the shape is unchanged, the slice timing fields. Reset: scl_slope 1 / scl_inter 0 (the
 * data written are final values), cal_min/cal_max 0, extensions (dropped). Output is always
 * little-endian NIfTI-1, or NIfTI-2 when an extent exceeds NIfTI-1's int16 dim (32767).
 *
 * Integer datatypes: values are rounded half away from zero; a NaN or out-of-range value is an
 * InputError rather than a silent wrap.
 */
import { InputError } from '../errors.js';
import { matricesClose } from './affine.js';
import { gzipBytes } from './gzip.js';
import type { ImageVolume, Matrix4, NiftiHeaderInfo, Shape3, VoxelArray } from './image.js';
import { affineToQform, baseAffine } from './nifti-affine.js';
import {
  NIFTI1_MIN_VOX_OFFSET,
  NIFTI2_MIN_VOX_OFFSET,
  NIFTI_CODE_OF,
  NIFTI_DATATYPES,
} from './nifti-header.js';
import { encodeNiftiHeader } from './nifti-encode.js';

/** Voxel types {@link writeNifti} can write. */
export type WriteDatatype = 'float32' | 'uint8' | 'int16' | 'int32' | 'uint16';
/** Arrays {@link writeNifti} accepts. */
export type WritableArray = Float32Array | Uint8Array | Int16Array | Int32Array | Uint16Array;

/** Options of {@link writeNifti}. */
export interface WriteNiftiOptions {
  /** Output grid (default: the input's). */
  shape?: Shape3;
  /** Output voxel-to-RAS affine (default: the input's). */
  affine?: Matrix4;
  /** Gzip the output (`.nii.gz`). */
  gzip?: boolean;
  /** Stored voxel type (default: the array's own type). */
  datatype?: WriteDatatype;
}

const RANGES: Record<WriteDatatype, [number, number]> = {
  float32: [-Infinity, Infinity],
  uint8: [0, 255],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  uint16: [0, 65535],
};

const ARRAYS = {
  float32: Float32Array,
  uint8: Uint8Array,
  int16: Int16Array,
  int32: Int32Array,
  uint16: Uint16Array,
} as const;

function datatypeOf(data: WritableArray): WriteDatatype {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint16Array) return 'uint16';
  throw new InputError('nifti_write_bad_data', 'data must be a Float32/Uint8/Int16/Int32/Uint16 array');
}

/** Writes `data` as NIfTI with the geometry and metadata of `like` (see the module notes). */
export function writeNifti(
  like: ImageVolume<VoxelArray>,
  data: WritableArray,
  options: WriteNiftiOptions = {},
): Uint8Array {
  const { header, datatype } = planHeader(like, data.length, options, () => datatypeOf(data));
  const values = convert(data, datatype);
  const bytes = new Uint8Array(header.byteLength + values.byteLength);
  bytes.set(header);
  bytes.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), header.byteLength);
  return options.gzip ? gzipBytes(bytes) : bytes;
}

/**
 * The bytes {@link writeNifti} writes before the voxel data of `count` values of `datatype`
 * (header, extension flag, padding up to vox_offset), so a caller can stream the data after them.
 */
export function niftiHeaderBytes(
  like: ImageVolume<VoxelArray>,
  count: number,
  options: Omit<WriteNiftiOptions, 'gzip'> & { datatype: WriteDatatype },
): Uint8Array {
  return planHeader(like, count, options, () => options.datatype).header;
}

function planHeader(
  like: ImageVolume<VoxelArray>,
  count: number,
  options: WriteNiftiOptions,
  arrayDatatype: () => WriteDatatype,
): { header: Uint8Array; datatype: WriteDatatype } {
  const shape = options.shape ?? like.shape;
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((n) => Number.isSafeInteger(n) && n >= 1)) {
    throw new InputError(
      'nifti_write_bad_shape',
      `shape must be 3 positive integers, got ${JSON.stringify(shape)}`,
    );
  }
  const nvox = shape[0] * shape[1] * shape[2];
  const channels = count / nvox;
  if (!Number.isInteger(channels) || channels < 1) {
    throw new InputError(
      'nifti_write_bad_data',
      `data has ${count} values; shape [${shape}] needs a multiple of ${nvox}`,
    );
  }
  const datatype = options.datatype ?? arrayDatatype();
  if (!(datatype in RANGES))
    throw new InputError('nifti_write_bad_datatype', `cannot write datatype ${datatype}`);
  const affine = options.affine ?? like.affine;
  checkAffine(affine);

  const version = shape.some((n) => n > 32767) || channels > 32767 ? 2 : 1;
  const info = headerFor(like, shape, channels, affine, datatype, version);
  const header = new Uint8Array(info.voxOffset);
  header.set(encodeNiftiHeader(info));
  return { header, datatype };
}

function checkAffine(affine: Matrix4): void {
  const ok =
    Array.isArray(affine) &&
    affine.length === 4 &&
    affine.every((row) => Array.isArray(row) && row.length === 4 && row.every(Number.isFinite));
  if (!ok) throw new InputError('bad_affine', 'affine must be a 4x4 matrix of finite numbers');
}

function headerFor(
  like: ImageVolume<VoxelArray>,
  shape: Shape3,
  channels: number,
  affine: Matrix4,
  datatype: WriteDatatype,
  version: 1 | 2,
): NiftiHeaderInfo {
  const src = like.nifti;
  const sameShape = shape.every((n, i) => n === like.shape[i]);
  const h: NiftiHeaderInfo = {
    version,
    littleEndian: true,
    dim: [channels > 1 ? 4 : 3, ...shape, channels, 1, 1, 1],
    pixdim: src ? src.pixdim.slice() : [1, 1, 1, 1, 0, 0, 0, 0],
    datatypeCode: NIFTI_CODE_OF[datatype],
    bitpix: NIFTI_DATATYPES[NIFTI_CODE_OF[datatype]].bytes * 8,
    voxOffset: version === 1 ? NIFTI1_MIN_VOX_OFFSET : NIFTI2_MIN_VOX_OFFSET,
    sclSlope: 1,
    sclInter: 0,
    calMax: 0,
    calMin: 0,
    dimInfo: src?.dimInfo ?? 0,
    sliceStart: src && sameShape ? src.sliceStart : 0,
    sliceEnd: src && sameShape ? src.sliceEnd : 0,
    sliceCode: src && sameShape ? src.sliceCode : 0,
    sliceDuration: src && sameShape ? src.sliceDuration : 0,
    toffset: src?.toffset ?? 0,
    xyztUnits: src?.xyztUnits ?? 2,
    intentCode: src?.intentCode ?? 0,
    intentP: src ? [...src.intentP] : [0, 0, 0],
    intentName: src?.intentName ?? '',
    descrip: src?.descrip ?? '',
    auxFile: src?.auxFile ?? '',
    qformCode: src ? src.qformCode : like.format === 'dicom' ? 1 : 0,
    sformCode: src ? src.sformCode : like.format === 'dicom' ? 1 : 2,
    quatern: src ? [...src.quatern] : [0, 0, 0],
    qoffset: src ? [...src.qoffset] : [0, 0, 0],
    srow: src ? src.srow.map((r) => r.slice()) : [],
  };
  if (version === 1 && src?.version === 2) narrowToNifti1(h);
  const keepsBase = src && src.qformCode === 0 && src.sformCode === 0 && !sameShape;
  if (src && !keepsBase && matricesClose(affine, like.affine, 0)) return h;

  const q = affineToQform(affine);
  h.quatern = q.quatern;
  h.qoffset = q.qoffset;
  h.pixdim[0] = q.qfac;
  for (let i = 0; i < 3; i++) h.pixdim[i + 1] = q.zooms[i];
  h.srow = affine.slice(0, 3).map((r) => r.slice());
  if (h.qformCode === 0 && h.sformCode === 0 && !matricesClose(affine, baseAffine(shape, q.zooms), 1e-6)) {
    h.sformCode = 2;
  }
  return h;
}

/**
 * A NIfTI-2 source's int32/int64 fields where NIfTI-1 has int16 and bytes: a value that does not fit
 * becomes 0 (unknown intent, no slice timing, unknown units), and an xform code the reader ignored
 * (outside 0..5, as nibabel) is written as 0, so the label map of any readable input can be written.
 */
function narrowToNifti1(h: NiftiHeaderInfo): void {
  const int16 = (x: number): number => (Number.isInteger(x) && x >= -32768 && x <= 32767 ? x : 0);
  const byte = (x: number): number => (Number.isInteger(x) && x >= 0 && x <= 255 ? x : 0);
  const xform = (x: number): number => (Number.isInteger(x) && x >= 0 && x <= 5 ? x : 0);
  h.intentCode = int16(h.intentCode);
  h.sliceStart = int16(h.sliceStart);
  h.sliceEnd = int16(h.sliceEnd);
  h.sliceCode = byte(h.sliceCode);
  h.dimInfo = byte(h.dimInfo);
  h.xyztUnits = byte(h.xyztUnits);
  h.qformCode = xform(h.qformCode);
  h.sformCode = xform(h.sformCode);
}

function convert(data: WritableArray, datatype: WriteDatatype): WritableArray {
  const Ctor = ARRAYS[datatype];
  if (data instanceof Ctor) return data;
  const out = new Ctor(data.length);
  if (datatype === 'float32') {
    out.set(data);
    return out;
  }
  const [lo, hi] = RANGES[datatype];
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    const r = v < 0 ? -Math.round(-v) : Math.round(v);
    if (!(r >= lo && r <= hi)) {
      throw new InputError('nifti_write_out_of_range', `value ${v} at index ${i} does not fit ${datatype}`);
    }
    out[i] = r;
  }
  return out;
}
