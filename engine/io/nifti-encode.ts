/**
 * @module
 * Serialises a {@link NiftiHeaderInfo} as a little-endian NIfTI-1 (348 bytes) or NIfTI-2 (540
 * bytes) header followed by the 4-byte extension flag (no extensions).
 */
import { InputError } from '../errors.js';
import type { NiftiHeaderInfo } from './image.js';
import { NIFTI1_HEADER_BYTES, NIFTI2_HEADER_BYTES } from './nifti-header.js';

function putText(bytes: Uint8Array, at: number, length: number, s: string): void {
  // Keep one NUL terminator; non-Latin-1 characters become '?'.
  for (let i = 0; i < Math.min(s.length, length - 1); i++) {
    const c = s.charCodeAt(i);
    bytes[at + i] = c < 256 ? c : 0x3f;
  }
}

/** Header bytes (plus the zeroed extension flag) for `h`; always little-endian. */
export function encodeNiftiHeader(h: NiftiHeaderInfo): Uint8Array {
  const size = h.version === 1 ? NIFTI1_HEADER_BYTES : NIFTI2_HEADER_BYTES;
  const bytes = new Uint8Array(size + 4);
  const v = new DataView(bytes.buffer);
  v.setInt32(0, size, true);
  if (h.version === 1) encodeV1(h, v, bytes);
  else encodeV2(h, v, bytes);
  return bytes;
}

function encodeV1(h: NiftiHeaderInfo, v: DataView, b: Uint8Array): void {
  const i16 = (o: number, x: number): void => {
    if (!(x >= -32768 && x <= 32767))
      throw new InputError('nifti_write_bad_header', `value ${x} does not fit NIfTI-1`);
    v.setInt16(o, x, true);
  };
  const f32 = (o: number, x: number): void => v.setFloat32(o, x, true);
  b[38] = 0x72; // 'r' (regular), as nibabel writes
  b[39] = h.dimInfo;
  h.dim.forEach((d, i) => i16(40 + 2 * i, d));
  h.intentP.forEach((p, i) => f32(56 + 4 * i, p));
  i16(68, h.intentCode);
  i16(70, h.datatypeCode);
  i16(72, h.bitpix);
  i16(74, h.sliceStart);
  h.pixdim.forEach((p, i) => f32(76 + 4 * i, p));
  f32(108, h.voxOffset);
  f32(112, h.sclSlope);
  f32(116, h.sclInter);
  i16(120, h.sliceEnd);
  b[122] = h.sliceCode;
  b[123] = h.xyztUnits;
  f32(124, h.calMax);
  f32(128, h.calMin);
  f32(132, h.sliceDuration);
  f32(136, h.toffset);
  putText(b, 148, 80, h.descrip);
  putText(b, 228, 24, h.auxFile);
  i16(252, h.qformCode);
  i16(254, h.sformCode);
  h.quatern.forEach((q, i) => f32(256 + 4 * i, q));
  h.qoffset.forEach((q, i) => f32(268 + 4 * i, q));
  h.srow.forEach((row, r) => row.forEach((x, c) => f32(280 + 16 * r + 4 * c, x)));
  putText(b, 328, 16, h.intentName);
  putText(b, 344, 4, 'n+1');
}

function encodeV2(h: NiftiHeaderInfo, v: DataView, b: Uint8Array): void {
  const i64 = (o: number, x: number): void => v.setBigInt64(o, BigInt(Math.trunc(x)), true);
  const f64 = (o: number, x: number): void => v.setFloat64(o, x, true);
  const i32 = (o: number, x: number): void => v.setInt32(o, x, true);
  b.set([0x6e, 0x2b, 0x32, 0x00, 0x0d, 0x0a, 0x1a, 0x0a], 4); // "n+2\0\r\n\032\n"
  v.setInt16(12, h.datatypeCode, true);
  v.setInt16(14, h.bitpix, true);
  h.dim.forEach((d, i) => i64(16 + 8 * i, d));
  h.intentP.forEach((p, i) => f64(80 + 8 * i, p));
  h.pixdim.forEach((p, i) => f64(104 + 8 * i, p));
  i64(168, h.voxOffset);
  f64(176, h.sclSlope);
  f64(184, h.sclInter);
  f64(192, h.calMax);
  f64(200, h.calMin);
  f64(208, h.sliceDuration);
  f64(216, h.toffset);
  i64(224, h.sliceStart);
  i64(232, h.sliceEnd);
  putText(b, 240, 80, h.descrip);
  putText(b, 320, 24, h.auxFile);
  i32(344, h.qformCode);
  i32(348, h.sformCode);
  h.quatern.forEach((q, i) => f64(352 + 8 * i, q));
  h.qoffset.forEach((q, i) => f64(376 + 8 * i, q));
  h.srow.forEach((row, r) => row.forEach((x, c) => f64(400 + 32 * r + 8 * c, x)));
  i32(496, h.sliceCode);
  i32(500, h.xyztUnits);
  i32(504, h.intentCode);
  putText(b, 508, 16, h.intentName);
  b[524] = h.dimInfo;
}
