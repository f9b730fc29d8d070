/**
 * @module
 * NIfTI-1 / NIfTI-2 header parsing (hand-written: nifti-reader-js overwrites srow with the qform
 * when qform_code > sform_code, ignores qform entirely for NIfTI-2 and throws untyped errors, so
 * it cannot reproduce nibabel's affine or give stable error codes).
 */
import { InputError, UnsupportedError } from '../errors.js';
import type { NiftiHeaderInfo } from './image.js';

/** Header sizes (sizeof_hdr) and the offset data starts at when vox_offset is unset. */
export const NIFTI1_HEADER_BYTES = 348;
export const NIFTI2_HEADER_BYTES = 540;
export const NIFTI1_MIN_VOX_OFFSET = 352;
export const NIFTI2_MIN_VOX_OFFSET = 544;

/** What we know about each NIfTI datatype code. `bytes` 0 means unsupported. */
export const NIFTI_DATATYPES: Readonly<Record<number, { name: string; bytes: number }>> = {
  1: { name: 'binary', bytes: 0 },
  2: { name: 'uint8', bytes: 1 },
  4: { name: 'int16', bytes: 2 },
  8: { name: 'int32', bytes: 4 },
  16: { name: 'float32', bytes: 4 },
  32: { name: 'complex64', bytes: 0 },
  64: { name: 'float64', bytes: 8 },
  128: { name: 'rgb24', bytes: 0 },
  256: { name: 'int8', bytes: 1 },
  512: { name: 'uint16', bytes: 2 },
  768: { name: 'uint32', bytes: 4 },
  1024: { name: 'int64', bytes: 8 },
  1280: { name: 'uint64', bytes: 8 },
  1536: { name: 'float128', bytes: 0 },
  1792: { name: 'complex128', bytes: 0 },
  2048: { name: 'complex256', bytes: 0 },
  2304: { name: 'rgba32', bytes: 0 },
};

/** NIfTI datatype code of each datatype name we can write. */
export const NIFTI_CODE_OF: Readonly<Record<string, number>> = {
  uint8: 2,
  int16: 4,
  int32: 8,
  float32: 16,
  float64: 64,
  int8: 256,
  uint16: 512,
  uint32: 768,
};

/** NIfTI version (1 or 2) when `bytes` starts with a single-file NIfTI header, else null. */
export function sniffNifti(bytes: Uint8Array): 1 | 2 | null {
  if (bytes.length < 8) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = [view.getInt32(0, true), view.getInt32(0, false)];
  if (size.includes(NIFTI2_HEADER_BYTES) && bytes[4] === 0x6e && bytes[6] === 0x32) return 2;
  if (size.includes(NIFTI1_HEADER_BYTES)) return 1;
  return null;
}

/** Parses a NIfTI-1 or NIfTI-2 header from the start of `bytes` (the decompressed file). */
export function parseNiftiHeader(bytes: Uint8Array): NiftiHeaderInfo {
  const version = sniffNifti(bytes);
  if (version === null)
    throw new InputError('nifti_bad_header', 'not a NIfTI header (sizeof_hdr is not 348 or 540)');
  const need = version === 1 ? NIFTI1_HEADER_BYTES : NIFTI2_HEADER_BYTES;
  if (bytes.length < need) {
    throw new InputError(
      'nifti_truncated',
      `NIfTI-${version} header needs ${need} bytes, got ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, need);
  const le = view.getInt32(0, true) === need;
  const hdr = version === 1 ? parseV1(view, bytes, le) : parseV2(view, bytes, le);
  validateHeader(hdr);
  return hdr;
}

function text(bytes: Uint8Array, start: number, length: number): string {
  let s = '';
  for (let i = start; i < start + length && bytes[i] !== 0; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

function parseV1(v: DataView, b: Uint8Array, le: boolean): NiftiHeaderInfo {
  const magic = text(b, 344, 4);
  if (magic === 'ni1') {
    throw new UnsupportedError(
      'nifti_pair_unsupported',
      'NIfTI-1 .hdr/.img pairs are not supported; use .nii/.nii.gz',
    );
  }
  if (magic !== 'n+1') throw new InputError('nifti_bad_magic', `bad NIfTI-1 magic ${JSON.stringify(magic)}`);
  const i16 = (o: number): number => v.getInt16(o, le);
  const f32 = (o: number): number => v.getFloat32(o, le);
  return {
    version: 1,
    littleEndian: le,
    dimInfo: b[39],
    dim: Array.from({ length: 8 }, (_, i) => i16(40 + 2 * i)),
    intentP: [f32(56), f32(60), f32(64)],
    intentCode: i16(68),
    datatypeCode: i16(70),
    bitpix: i16(72),
    sliceStart: i16(74),
    pixdim: Array.from({ length: 8 }, (_, i) => f32(76 + 4 * i)),
    voxOffset: f32(108),
    sclSlope: f32(112),
    sclInter: f32(116),
    sliceEnd: i16(120),
    sliceCode: b[122],
    xyztUnits: b[123],
    calMax: f32(124),
    calMin: f32(128),
    sliceDuration: f32(132),
    toffset: f32(136),
    descrip: text(b, 148, 80),
    auxFile: text(b, 228, 24),
    qformCode: i16(252),
    sformCode: i16(254),
    quatern: [f32(256), f32(260), f32(264)],
    qoffset: [f32(268), f32(272), f32(276)],
    srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f32(280 + 16 * r + 4 * c))),
    intentName: text(b, 328, 16),
  };
}

function parseV2(v: DataView, b: Uint8Array, le: boolean): NiftiHeaderInfo {
  const magic = text(b, 4, 4);
  if (magic === 'ni2') {
    throw new UnsupportedError(
      'nifti_pair_unsupported',
      'NIfTI-2 .hdr/.img pairs are not supported; use .nii/.nii.gz',
    );
  }
  if (magic !== 'n+2') throw new InputError('nifti_bad_magic', `bad NIfTI-2 magic ${JSON.stringify(magic)}`);
  const i64 = (o: number, field: string): number => {
    const big = v.getBigInt64(o, le);
    if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new InputError('nifti_bad_header', `NIfTI-2 ${field} ${big} is out of range`);
    }
    return Number(big);
  };
  const f64 = (o: number): number => v.getFloat64(o, le);
  const i32 = (o: number): number => v.getInt32(o, le);
  return {
    version: 2,
    littleEndian: le,
    datatypeCode: v.getInt16(12, le),
    bitpix: v.getInt16(14, le),
    dim: Array.from({ length: 8 }, (_, i) => i64(16 + 8 * i, 'dim')),
    intentP: [f64(80), f64(88), f64(96)],
    pixdim: Array.from({ length: 8 }, (_, i) => f64(104 + 8 * i)),
    voxOffset: i64(168, 'vox_offset'),
    sclSlope: f64(176),
    sclInter: f64(184),
    calMax: f64(192),
    calMin: f64(200),
    sliceDuration: f64(208),
    toffset: f64(216),
    sliceStart: i64(224, 'slice_start'),
    sliceEnd: i64(232, 'slice_end'),
    descrip: text(b, 240, 80),
    auxFile: text(b, 320, 24),
    qformCode: i32(344),
    sformCode: i32(348),
    quatern: [f64(352), f64(360), f64(368)],
    qoffset: [f64(376), f64(384), f64(392)],
    srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f64(400 + 32 * r + 8 * c))),
    sliceCode: i32(496),
    xyztUnits: i32(500),
    intentCode: i32(504),
    intentName: text(b, 508, 16),
    dimInfo: b[524],
  };
}

/** Structural checks that do not depend on limits (those come later, before allocation). */
function validateHeader(h: NiftiHeaderInfo): void {
  const nd = h.dim[0];
  if (!(nd >= 1 && nd <= 7)) throw new InputError('nifti_bad_dim', `dim[0] must be 1..7, got ${nd}`);
  for (let i = 1; i <= nd; i++) {
    if (!(h.dim[i] >= 1)) {
      throw new InputError('bad_dimensions', `dim[${i}] must be positive, got ${h.dim[i]}`);
    }
  }
  const type = NIFTI_DATATYPES[h.datatypeCode];
  if (!type) throw new InputError('nifti_bad_datatype', `unknown NIfTI datatype code ${h.datatypeCode}`);
  if (type.bytes === 0) {
    throw new UnsupportedError('nifti_unsupported_datatype', `NIfTI datatype ${type.name} is not supported`);
  }
  for (let i = 1; i <= Math.min(nd, 3); i++) {
    if (!Number.isFinite(h.pixdim[i])) {
      throw new InputError('nifti_bad_spacing', `pixdim[${i}] must be finite, got ${h.pixdim[i]}`);
    }
  }
  if (!Number.isFinite(h.voxOffset) || h.voxOffset < 0 || !Number.isInteger(h.voxOffset)) {
    throw new InputError(
      'nifti_bad_vox_offset',
      `vox_offset must be a non-negative integer, got ${h.voxOffset}`,
    );
  }
  const min = h.version === 1 ? NIFTI1_MIN_VOX_OFFSET : NIFTI2_MIN_VOX_OFFSET;
  if (h.voxOffset !== 0 && h.voxOffset < min) {
    throw new InputError(
      'nifti_bad_vox_offset',
      `vox_offset ${h.voxOffset} is inside the header (minimum ${min})`,
    );
  }
}

/** Byte offset of the voxel data (an unset vox_offset of 0 means right after the header). */
export function dataOffset(h: NiftiHeaderInfo): number {
  if (h.voxOffset !== 0) return h.voxOffset;
  return h.version === 1 ? NIFTI1_MIN_VOX_OFFSET : NIFTI2_MIN_VOX_OFFSET;
}
