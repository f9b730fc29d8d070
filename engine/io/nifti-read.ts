/**
 * @module
 * NIfTI-1/2 reader (`.nii` and `.nii.gz`). Order of operations, so nothing big is allocated before
 * it is known to fit: input size → (gzip: inflate only the header) → header checks → declared
 * sizes vs limits → allocate the voxel buffer → inflate exactly the bytes needed into it.
 *
 * 4D: dim[4] = 1 is an ordinary 3D volume; dim[4] > 1 is read as `channels` volumes, channel-blocked
 * (NIfTI's own on-disk order). dim[5..7] > 1 is refused.
 *
 * `storedType`: an unscaled 8- or 16-bit integer image keeps its stored type instead of being
 * widened to float32 (the values are the same: float32 holds every one of them), so the caller can
 * convert it a slab at a time. Uncompressed, the voxels may then share `bytes`'s memory.
 */
import { InputError, LimitError, UnsupportedError } from '../errors.js';
import { LimitedInflater, isGzip } from './gzip.js';
import type { ImageVolume, InspectGeometry, NiftiHeaderInfo, Shape3, VoxelArray } from './image.js';
import { checkDecompressedBytes, checkExtents, checkInputBytes, type ReadLimits } from './limits.js';
import { bestAffine, fixedZooms } from './nifti-affine.js';
import { NIFTI2_HEADER_BYTES, NIFTI_DATATYPES, dataOffset, parseNiftiHeader } from './nifti-header.js';

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Most bytes before the voxels (header and extensions) of a gzipped file. The gap is inflated and
 * discarded, and no work bound counts it: a 1x1x1 image with vox_offset 1e9 made a node inflate 1 GB of zeros (found by
 * review). Real extensions (AFNI, JSON sidecars, CIFTI's XML) are far smaller.
 */
export const MAX_NIFTI_DATA_OFFSET = 16 * 2 ** 20;

/** Where the voxels are and how many there are, from a validated header. */
interface Layout {
  shape: Shape3;
  channels: number;
  count: number;
  offset: number;
  bytes: number;
}

function layoutOf(h: NiftiHeaderInfo, limits: ReadLimits): Layout {
  const nd = h.dim[0];
  const at = (i: number): number => (i <= nd ? h.dim[i] : 1);
  for (let i = 5; i <= 7; i++) {
    if (at(i) !== 1) {
      throw new UnsupportedError(
        'nifti_unsupported_dims',
        `NIfTI dim[${i}] = ${at(i)}: only 3D (+ channels in dim[4]) is read`,
      );
    }
  }
  const shape: Shape3 = [at(1), at(2), at(3)];
  const channels = at(4);
  const count = checkExtents([...shape, channels], limits, 'NIfTI');
  const offset = dataOffset(h);
  const bytes = count * NIFTI_DATATYPES[h.datatypeCode].bytes;
  checkDecompressedBytes(offset + bytes, limits, 'NIfTI');
  return { shape, channels, count, offset, bytes };
}

/** Reads a `.nii` or `.nii.gz` file into a float32 volume (scl_slope/scl_inter applied). */
export function readNifti(
  bytes: Uint8Array,
  limits: ReadLimits,
  inspect?: InspectGeometry,
  storedType?: false,
): ImageVolume;
/** The same, keeping an unscaled 8- or 16-bit integer image in its stored type (see the module notes). */
export function readNifti(
  bytes: Uint8Array,
  limits: ReadLimits,
  inspect: InspectGeometry | undefined,
  storedType: boolean,
): ImageVolume<VoxelArray>;
export function readNifti(
  bytes: Uint8Array,
  limits: ReadLimits,
  inspect?: InspectGeometry,
  storedType = false,
): ImageVolume<VoxelArray> {
  checkInputBytes(bytes.length, limits);
  let header: NiftiHeaderInfo;
  let layout: Layout;
  let raw: Uint8Array;
  // Inflated from gzip, `raw` is this reader's own buffer; otherwise a view of the caller's bytes.
  const owned = isGzip(bytes);
  if (owned) {
    const inflater = new LimitedInflater(bytes, limits.maxDecompressedBytes, 'gzip', 'NIfTI gzip stream');
    const head = inflater.read(NIFTI2_HEADER_BYTES);
    header = parseNiftiHeader(head);
    layout = layoutOf(header, limits);
    inspect?.({ shape: layout.shape, spacing: fixedZooms(header), channels: layout.channels });
    raw = new Uint8Array(layout.bytes);
    let got: number;
    if (layout.offset <= head.length) {
      got = Math.min(raw.length, head.length - layout.offset);
      raw.set(head.subarray(layout.offset, layout.offset + got));
    } else {
      // Only here does the gap cost work: a plain file's gap is bytes the body already holds.
      if (layout.offset > MAX_NIFTI_DATA_OFFSET) {
        throw new LimitError(
          'nifti_extensions_too_large',
          `NIfTI vox_offset ${layout.offset}: more than ${MAX_NIFTI_DATA_OFFSET} bytes of header and extensions to inflate before the voxels`,
        );
      }
      const gap = layout.offset - head.length;
      if (inflater.skip(gap) < gap) throw truncated(layout, head.length);
      got = 0;
    }
    got += inflater.readInto(raw, got);
    if (got < raw.length) throw truncated(layout, layout.offset + got);
  } else {
    header = parseNiftiHeader(bytes);
    layout = layoutOf(header, limits);
    inspect?.({ shape: layout.shape, spacing: fixedZooms(header), channels: layout.channels });
    if (bytes.length < layout.offset + layout.bytes) throw truncated(layout, bytes.length);
    raw = bytes.subarray(layout.offset, layout.offset + layout.bytes);
  }
  const [slope, inter] = scaling(header);
  const keep = storedType && slope === 1 && inter === 0 && header.datatypeCode in KEPT_TYPES;
  const data = keep
    ? (hostView(raw, header.datatypeCode, header.littleEndian, layout.count, owned) as VoxelArray)
    : decodeVoxels(raw, header.datatypeCode, header.littleEndian, layout.count, slope, inter, owned);
  const volume: ImageVolume<VoxelArray> = {
    shape: layout.shape,
    spacing: fixedZooms(header),
    affine: bestAffine(header, layout.shape),
    data,
    datatype: NIFTI_DATATYPES[header.datatypeCode].name,
    format: header.version === 1 ? 'nifti1' : 'nifti2',
    nifti: header,
  };
  if (layout.channels > 1) volume.channels = layout.channels;
  return volume;
}

function truncated(layout: Layout, have: number): InputError {
  return new InputError(
    'nifti_truncated',
    `NIfTI data is truncated: needs ${layout.offset + layout.bytes} bytes, file has ${have}`,
  );
}

/** nibabel's rule: slope 0 or non-finite means unscaled; a finite slope needs a finite intercept. */
function scaling(h: NiftiHeaderInfo): [number, number] {
  if (h.sclSlope === 0 || !Number.isFinite(h.sclSlope)) return [1, 0];
  if (!Number.isFinite(h.sclInter)) {
    throw new InputError(
      'nifti_bad_scaling',
      `scl_slope ${h.sclSlope} with non-finite scl_inter ${h.sclInter}`,
    );
  }
  return [h.sclSlope, h.sclInter];
}

type NumericArray =
  Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/** Stored types kept as they are on request: 8 and 16 bits, integers float32 holds exactly. */
const KEPT_TYPES: Record<number, true> = { 2: true, 256: true, 4: true, 512: true };

const CTORS: Record<number, new (buffer: ArrayBufferLike, offset: number, length: number) => NumericArray> = {
  2: Uint8Array,
  256: Int8Array,
  4: Int16Array,
  512: Uint16Array,
  8: Int32Array,
  768: Uint32Array,
  16: Float32Array,
  64: Float64Array,
};

/**
 * Typed view of `raw` in host order: zero-copy when aligned and same-endian, else one copy. `owned`:
 * `raw` is the reader's own buffer (inflated from gzip), which is swapped in place rather than copied:
 * a copy of 8-byte voxels beside them and their float32 copy is more than the work bounds count
 * (engine/pipeline/work.ts).
 */
function hostView(
  raw: Uint8Array,
  code: number,
  littleEndian: boolean,
  count: number,
  owned: boolean,
): NumericArray {
  const size = NIFTI_DATATYPES[code].bytes;
  let src = raw;
  if (raw.byteOffset % size !== 0) src = raw.slice();
  if (littleEndian !== HOST_LITTLE_ENDIAN && size > 1) {
    src = src === raw && !owned ? raw.slice() : src;
    for (let i = 0; i < src.length; i += size) src.subarray(i, i + size).reverse();
  }
  return new CTORS[code](src.buffer, src.byteOffset, count);
}

function decodeVoxels(
  raw: Uint8Array,
  code: number,
  littleEndian: boolean,
  count: number,
  slope: number,
  inter: number,
  owned: boolean,
): Float32Array {
  const out = new Float32Array(count);
  if (code === 1024 || code === 1280) {
    decodeInt64(raw, code === 1024, littleEndian, out, slope, inter);
    return out;
  }
  const src = hostView(raw, code, littleEndian, count, owned);
  if (slope === 1 && inter === 0) out.set(src);
  else for (let i = 0; i < count; i++) out[i] = src[i] * slope + inter;
  return out;
}

function decodeInt64(
  raw: Uint8Array,
  signed: boolean,
  littleEndian: boolean,
  out: Float32Array,
  slope: number,
  inter: number,
): void {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  for (let i = 0; i < out.length; i++) {
    const v = signed ? view.getBigInt64(8 * i, littleEndian) : view.getBigUint64(8 * i, littleEndian);
    if (v > max || v < -max) {
      throw new UnsupportedError(
        'nifti_int64_out_of_range',
        `64-bit voxel value ${v} at index ${i} is outside the exactly representable range (±2^53)`,
      );
    }
    out[i] = Number(v) * slope + inter;
  }
}
