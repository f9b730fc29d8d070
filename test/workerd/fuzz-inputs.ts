/**
 * Hostile image bodies for the API fuzzer, all derived from a seeded PRNG and the shared fixtures:
 * NIfTI headers with fields flipped, truncated and bit-flipped files, mutated PNG/JPEG/DICOM, and
 * compression bombs (gzip, zlib inside PNG, zip) built here so nothing large is committed.
 */
import { readFileSync } from 'node:fs';
import { deflateSync, gzipSync } from 'node:zlib';
import { encode as encodePng } from 'fast-png';
import { concatBytes } from '../../engine/protocol/bytes.js';
import jpeg from 'jpeg-js';
import { zipSync } from 'fflate';
import { readImage, writeNifti } from '../../engine/io/index.js';
import { SHARED_DATA } from '../support/goldens.js';
import { pngChunk, pngCrc } from '../support/png-chunks.js';

/** A seeded PRNG (mulberry32): the same seed gives the same requests. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Helpers over one PRNG. */
export function randomTools(next: () => number) {
  const int = (n: number) => Math.floor(next() * n);
  return {
    int,
    pick: <T>(xs: readonly T[]): T => xs[int(xs.length)],
    bytes(n: number): Uint8Array {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = int(256);
      return out;
    },
    /** A copy of `bytes` with `count` random bits flipped at or after `from`. */
    flipBits(bytes: Uint8Array, count: number, from = 0): Uint8Array {
      const out = bytes.slice();
      for (let i = 0; i < count; i++) out[from + int(out.length - from)] ^= 1 << int(8);
      return out;
    },
  };
}
/** The helpers {@link randomTools} returns. */
export type RandomTools = ReturnType<typeof randomTools>;

/** A hostile body and what was done to it. */
export interface FuzzBody {
  what: string;
  body: Uint8Array;
}

const fixture = (path: string) => new Uint8Array(readFileSync(`${SHARED_DATA}${path}`));

/** Shape of {@link smallNifti}: 4 planes along the model's slicing axis, so a run takes about a second. */
export const SMALL_SHAPE = [4, 32, 16];

/** The real anisotropic T1 (128x128x62, 2x2x3 mm) cropped to 4x32x16 around its centre, uncompressed. */
export function smallNifti(): Uint8Array {
  const image = readImage(fixture('fixtures/mr-aniso/KmeansTest_T1UCharRaw.nii.gz'));
  const [nx, ny, nz] = image.shape;
  const [cx, cy, cz] = SMALL_SHAPE;
  const [x0, y0, z0] = [(nx - cx) >> 1, (ny - cy) >> 1, (nz - cz) >> 1];
  const data = new Uint8Array(cx * cy * cz);
  for (let k = 0; k < cz; k++)
    for (let j = 0; j < cy; j++)
      for (let i = 0; i < cx; i++)
        data[(k * cy + j) * cx + i] = image.data[((k + z0) * ny + j + y0) * nx + i + x0];
  return writeNifti(image, data, { shape: [cx, cy, cz], datatype: 'uint8' });
}

/** The real 2D T1 slice (PNG, 181x217). */
export const slicePng = () => fixture('fixtures/mr-aniso/BrainT1Slice.png');
/** The real chest X-ray (JPEG, 512x512). */
export const xrayJpeg = () => fixture('fixtures/chest-xray/1.jpg');
/** Real single-frame DICOM files: CT 128x128 and MR 64x64. */
export const dicoms = () => [fixture('fixtures/dicom/CT_small.dcm'), fixture('fixtures/dicom/MR_small.dcm')];

/** The X-ray decoded, cut to its central 64x64 and encoded again (quality 90): a JPEG that runs fast. */
export function smallJpeg(): Uint8Array {
  const src = jpeg.decode(xrayJpeg(), { useTArray: true });
  const out = new Uint8Array(64 * 64 * 4);
  for (let y = 0; y < 64; y++)
    for (let x = 0; x < 64; x++)
      for (let c = 0; c < 4; c++) out[(y * 64 + x) * 4 + c] = src.data[((y + 224) * 512 + x + 224) * 4 + c];
  return new Uint8Array(jpeg.encode({ data: out, width: 64, height: 64 }, 90).data);
}

// NIfTI-1 header fields: [name, byte offset, kind].
type Field = [string, number, 'i16' | 'i32' | 'f32' | 'u8'];
const NIFTI_FIELDS: Field[] = [
  ['sizeof_hdr', 0, 'i32'],
  ['dim[0]', 40, 'i16'],
  ['dim[1]', 42, 'i16'],
  ['dim[2]', 44, 'i16'],
  ['dim[3]', 46, 'i16'],
  ['dim[4]', 48, 'i16'],
  ['dim[5]', 50, 'i16'],
  ['datatype', 70, 'i16'],
  ['bitpix', 72, 'i16'],
  ['pixdim[0]', 76, 'f32'],
  ['pixdim[1]', 80, 'f32'],
  ['pixdim[2]', 84, 'f32'],
  ['pixdim[3]', 88, 'f32'],
  ['vox_offset', 108, 'f32'],
  ['scl_slope', 112, 'f32'],
  ['scl_inter', 116, 'f32'],
  ['dim_info', 39, 'u8'],
  ['qform_code', 252, 'i16'],
  ['sform_code', 254, 'i16'],
  ['quatern_b', 256, 'f32'],
  ['qoffset_x', 268, 'f32'],
  ['srow_x[0]', 280, 'f32'],
  ['srow_z[2]', 320, 'f32'],
  ['magic', 344, 'i32'],
];
const INT_VALUES = [0, -1, 1, 2, 3, 7, 8, 255, 256, 1024, 32767, -32768, 65535, 2 ** 31 - 1, -(2 ** 31)];
const FLOAT_VALUES = [0, -0, -1, -2.5, NaN, Infinity, -Infinity, 1e-30, 1e-6, 196608, 65535, 1e30, 3.4e38];

/** Sets one NIfTI-1 header field (little endian) in place. */
export function setNiftiField(bytes: Uint8Array, offset: number, kind: Field[2], value: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (kind === 'f32') view.setFloat32(offset, value, true);
  else if (kind === 'i16') view.setInt16(offset, value, true);
  else if (kind === 'i32') view.setInt32(offset, value | 0, true);
  else view.setUint8(offset, value & 255);
}

/** One random mutation of a NIfTI file: a header field, a truncation, bit flips, or several fields. */
export function mutateNifti(base: Uint8Array, r: RandomTools): FuzzBody {
  const mode = r.int(10);
  if (mode < 6) {
    const out = base.slice();
    const names: string[] = [];
    for (let n = 0; n < 1 + (mode === 5 ? 2 : 0); n++) {
      const [name, offset, kind] = r.pick(NIFTI_FIELDS);
      const value = kind === 'f32' ? r.pick(FLOAT_VALUES) : r.pick(INT_VALUES);
      setNiftiField(out, offset, kind, value);
      names.push(`${name}=${value}`);
    }
    return { what: `header ${names.join(', ')}`, body: out };
  }
  if (mode < 8) {
    const at = r.pick([0, 1, 4, 40, 100, 347, 348, 352, 353, 400, base.length >> 1, base.length - 1]);
    return { what: `truncated to ${at} of ${base.length} bytes`, body: base.slice(0, at) };
  }
  const flips = r.pick([1, 4, 16, 64]);
  return { what: `${flips} random bit flips in the header`, body: r.flipBits(base.subarray(0, 352), flips) };
}

/** A NIfTI-1 header of uint8 `shape` at `spacing`, with `data` (default: none) after it. */
export function niftiOf(
  base: Uint8Array,
  shape: number[],
  spacing: number[],
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const out = new Uint8Array(352 + data.byteLength);
  out.set(base.subarray(0, 352));
  out.set(data, 352);
  setNiftiField(out, 40, 'i16', 3);
  shape.forEach((n, i) => setNiftiField(out, 42 + 2 * i, 'i16', n));
  spacing.forEach((s, i) => setNiftiField(out, 80 + 4 * i, 'f32', s));
  // The sform would otherwise override pixdim; the qform scales by pixdim.
  setNiftiField(out, 254, 'i16', 0);
  return out;
}

/** A gzip of `header` followed by `zeros` zero bytes, compressed in 16 MiB steps. */
export function gzipZeros(header: Uint8Array, zeros: number): Uint8Array {
  const step = 16 * 2 ** 20;
  const members: Uint8Array[] = [gzipSync(header, { level: 9 })];
  const block = gzipSync(new Uint8Array(step), { level: 9 });
  let left = zeros;
  for (; left >= step; left -= step) members.push(block);
  if (left > 0) members.push(gzipSync(new Uint8Array(left), { level: 9 }));
  return concat(members);
}

/** Concatenates byte arrays. */
export const concat = concatBytes;

/** A valid-CRC PNG declaring `width`x`height` grey 8-bit, whose IDAT inflates to `rawBytes` zeros. */
export function pngBomb(width: number, height: number, rawBytes: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const idat = deflateSync(new Uint8Array(rawBytes), { level: 9 });
  return concat([
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** A real-looking grey PNG of `width`x`height` (fast-png), for dimension mutations. */
export function greyPng(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 255;
  return encodePng({ width, height, data, channels: 1, depth: 8 });
}

/** Rewrites the IHDR of a PNG to `width`x`height` (CRC fixed, so only the size lies). */
export function pngWithSize(png: Uint8Array, width: number, height: number): Uint8Array {
  const out = png.slice();
  const v = new DataView(out.buffer);
  v.setUint32(16, width >>> 0);
  v.setUint32(20, height >>> 0);
  v.setUint32(29, pngCrc(out.subarray(12, 29)));
  return out;
}

/** Rewrites the first SOF marker's height and width in a JPEG. */
export function jpegWithSize(bytes: Uint8Array, width: number, height: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 2; i + 9 < out.length; i++) {
    if (out[i] === 0xff && out[i + 1] >= 0xc0 && out[i + 1] <= 0xc2) {
      const v = new DataView(out.buffer);
      v.setUint16(i + 5, height & 0xffff);
      v.setUint16(i + 7, width & 0xffff);
      return out;
    }
  }
  throw new Error('no SOF marker');
}

/** Sets the 2-byte US value of DICOM tag (group, element) wherever it occurs (explicit or implicit VR). */
export function dicomWithUs(bytes: Uint8Array, group: number, element: number, value: number): Uint8Array {
  const out = bytes.slice();
  const v = new DataView(out.buffer);
  for (let i = 132; i + 10 < out.length; i++) {
    if (v.getUint16(i, true) === group && v.getUint16(i + 2, true) === element) {
      v.setUint16(i + 8, value & 0xffff, true);
      return out;
    }
  }
  throw new Error(`no tag (${group.toString(16)},${element.toString(16)})`);
}

/** Replaces the text of DICOM tag (group, element) by `text`, padded or cut to its stored length. */
export function dicomWithText(bytes: Uint8Array, group: number, element: number, text: string): Uint8Array {
  const out = bytes.slice();
  const v = new DataView(out.buffer);
  for (let i = 132; i + 10 < out.length; i++) {
    if (v.getUint16(i, true) === group && v.getUint16(i + 2, true) === element) {
      const explicit = out[i + 4] >= 65 && out[i + 4] <= 90 && out[i + 5] >= 65 && out[i + 5] <= 90;
      const length = explicit ? v.getUint16(i + 6, true) : v.getUint32(i + 4, true);
      const padded = text.padEnd(length, ' ').slice(0, length);
      out.set(new TextEncoder().encode(padded), i + 8);
      return out;
    }
  }
  throw new Error(`no tag (${group.toString(16)},${element.toString(16)})`);
}

/** A zip of `files` (name → bytes), deflated. */
export const zipOf = (files: Record<string, Uint8Array>) => zipSync(files, { level: 9 });
