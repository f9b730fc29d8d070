/**
 * @module
 * One DICOM file → frame descriptors (geometry, rescale, where the pixels are), without decoding
 * pixels yet, so a series can be sized, sorted and checked against limits before allocation.
 * Only uncompressed transfer syntaxes are read (implicit/explicit little endian, explicit big
 * endian); anything else is an UnsupportedError naming the transfer syntax UID.
 */
import dicomParser from 'dicom-parser';
import { AppError, InputError, LimitError, UnsupportedError } from '../errors.js';

type DataSet = ReturnType<typeof dicomParser.parseDicom>;

const UNCOMPRESSED: Record<string, boolean> = {
  '1.2.840.10008.1.2': true, // implicit VR little endian
  '1.2.840.10008.1.2.1': true, // explicit VR little endian
  '1.2.840.10008.1.2.2': false, // explicit VR big endian (retired, still seen)
};

/** One 2D frame of a DICOM file and the geometry needed to place it. */
export interface DicomFrame {
  /**
   * The file the frame is in. Not its parsed data set: that holds an object for every element of the
   * header (up to ~100 MB of heap for a header at MAX_DICOM_HEADER_BYTES), and a series keeps its
   * frames until the last file is read, so kept data sets would add up file after file.
   */
  file: Uint8Array;
  /** Byte offset of this frame's pixels in `file`. */
  offset: number;
  littleEndian: boolean;
  rows: number;
  cols: number;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  slope: number;
  intercept: number;
  /** ImagePositionPatient (LPS mm) of the first voxel, or null when absent. */
  position: number[] | null;
  /** True when `position` came from this frame's own functional group. */
  positionPerFrame: boolean;
  /** ImageOrientationPatient: row cosine then column cosine. */
  orientation: number[];
  /** PixelSpacing: [between rows, between columns]. */
  pixelSpacing: [number, number];
  /** SpacingBetweenSlices or else SliceThickness, or null. */
  sliceStep: number | null;
  seriesUid: string;
  /** Index of the frame inside its file (for fallback positions). */
  frameIndex: number;
}

/** True when `bytes` has the DICOM Part 10 preamble marker "DICM" at offset 128. */
export function isDicom(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 132 &&
    bytes[128] === 0x44 &&
    bytes[129] === 0x49 &&
    bytes[130] === 0x43 &&
    bytes[131] === 0x4d
  );
}

/**
 * Most bytes of a DICOM file before its PixelData. dicom-parser keeps an object for every element it
 * reads: a header of empty elements costs ~26 bytes of heap a byte (a hostile 7.6 MB file took 208 MB
 * before any other check), so this bounds it near 100 MB. Real headers are kilobytes; an enhanced
 * multi-frame one holds a few hundred bytes a frame, so thousands of frames fit.
 */
export const MAX_DICOM_HEADER_BYTES = 4 * 2 ** 20;

/**
 * Elements (sequence items included) parsed in the headers of a whole series. dicom-parser's time is
 * per element: ~3 us each, so a header of empty sequence items, 8 bytes an item, costs ~0.3 s a MiB
 * and deflates to almost nothing; a 1.6 MB zip of 256 such files cost ~230 s of a node's CPU before any
 * work check (found by review). Bytes are the wrong measure both ways: a Siemens header is ~95 KB in
 * 159 elements (its CSA data is one), and a byte allowance that grew with the declared pixels let a
 * file declare pixels it did not hold (found by review). Real files have tens to a few hundred
 * elements (28 to 271 in the fixtures and shared data), so a million is thousands of files and a few
 * seconds of parsing at most.
 */
export const MAX_SERIES_HEADER_ELEMENTS = 1_000_000;

/** Elements of `ds` and of every item in its sequences, nested ones included. */
function elementCount(ds: DataSet): number {
  let n = 0;
  for (const el of Object.values(ds.elements)) {
    n++;
    for (const item of el.items ?? []) n += 1 + (item.dataSet ? elementCount(item.dataSet) : 0);
  }
  return n;
}

const PIXEL_DATA = 'x7fe00010';

/** Parses the header up to PixelData, reading no more than {@link MAX_DICOM_HEADER_BYTES} of it. */
function parse(bytes: Uint8Array, what: string): DataSet {
  if (!isDicom(bytes)) throw new InputError('dicom_bad_magic', `${what}: no DICM marker at offset 128`);
  const head = bytes.subarray(0, Math.min(bytes.length, MAX_DICOM_HEADER_BYTES));
  const cut = head.length < bytes.length;
  const tooLarge = () =>
    new LimitError(
      'dicom_header_too_large',
      `${what}: the header before PixelData is longer than ${MAX_DICOM_HEADER_BYTES} bytes (or damaged)`,
    );
  try {
    const meta = dicomParser.readPart10Header(head);
    const ts = meta.string('x00020010')?.trim() ?? '';
    if (!(ts in UNCOMPRESSED)) {
      throw new UnsupportedError(
        'dicom_unsupported_transfer_syntax',
        `${what}: transfer syntax ${ts || '(missing)'} is compressed or unknown; only uncompressed DICOM is read`,
      );
    }
    const ds = dicomParser.parseDicom(head, { untilTag: PIXEL_DATA });
    if (cut) {
      if (!ds.elements[PIXEL_DATA]) throw tooLarge();
      // Offsets are the file's: the frames are read from the whole file, past the parsed head.
      ds.byteArray = bytes;
    }
    return ds;
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (cut) throw tooLarge();
    // dicom-parser throws strings, Errors and `{ exception, dataSet }` objects.
    const msg =
      err instanceof Error
        ? err.message
        : typeof err === 'object' && err !== null && 'exception' in err
          ? String((err as { exception: unknown }).exception)
          : String(err);
    throw new InputError('dicom_corrupt', `${what}: cannot parse DICOM: ${msg}`, { cause: err });
  }
}

function numbers(ds: DataSet | undefined, tag: string): number[] | null {
  const s = ds?.string(tag);
  if (!s) return null;
  const v = s.split('\\').map((x) => Number(x.trim()));
  return v.every(Number.isFinite) ? v : null;
}

/** First item's data set of a sequence, if present. */
function item(ds: DataSet | undefined, tag: string, index = 0): DataSet | undefined {
  return ds?.elements[tag]?.items?.[index]?.dataSet;
}

/** A functional-group attribute: per-frame item, then shared item, then the top level. */
function groupValue(
  ds: DataSet,
  perFrame: DataSet | undefined,
  shared: DataSet | undefined,
  seq: string,
  tag: string,
): number[] | null {
  return numbers(item(perFrame, seq), tag) ?? numbers(item(shared, seq), tag) ?? numbers(ds, tag);
}

/**
 * Parses one file into its frames (one for classic images, NumberOfFrames for multi-frame).
 * `checkSize(rows, cols, frames)` sees the declared size before any frame is built: each frame costs
 * a few hundred bytes of descriptor, and a 1x1 frame only one byte of file, so a small file could
 * otherwise declare millions of them (docs/work-bounds.md).
 */
export function dicomFrames(
  bytes: Uint8Array,
  what: string,
  checkSize: (rows: number, cols: number, frames: number) => void = () => {},
  checkHeader: (elements: number) => void = () => {},
): DicomFrame[] {
  const ds = parse(bytes, what);
  checkHeader(elementCount(ds));
  const ts = ds.string('x00020010')?.trim() ?? '';
  const samples = ds.uint16('x00280002') ?? 1;
  if (samples !== 1) {
    throw new UnsupportedError(
      'dicom_unsupported_pixels',
      `${what}: ${samples} samples per pixel (colour) is not supported`,
    );
  }
  const rows = ds.uint16('x00280010') ?? 0;
  const cols = ds.uint16('x00280011') ?? 0;
  const bitsAllocated = ds.uint16('x00280100') ?? 0;
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  if (![8, 16, 32].includes(bitsAllocated) || !(bitsStored >= 1 && bitsStored <= bitsAllocated)) {
    throw new UnsupportedError(
      'dicom_unsupported_pixels',
      `${what}: BitsAllocated ${bitsAllocated} / BitsStored ${bitsStored} is not supported (8, 16 or 32 only)`,
    );
  }
  const frames = Number(ds.string('x00280008') ?? '1');
  if (!(rows >= 1 && cols >= 1 && Number.isInteger(frames) && frames >= 1)) {
    throw new InputError(
      'bad_dimensions',
      `${what}: bad Rows ${rows} / Columns ${cols} / NumberOfFrames ${frames}`,
    );
  }
  checkSize(rows, cols, frames);
  const pixel = ds.elements[PIXEL_DATA];
  if (!pixel) throw new InputError('dicom_no_pixels', `${what}: no PixelData element`);
  if (pixel.encapsulatedPixelData) {
    throw new UnsupportedError(
      'dicom_unsupported_transfer_syntax',
      `${what}: encapsulated pixel data (transfer syntax ${ts})`,
    );
  }
  const frameBytes = (rows * cols * bitsAllocated) / 8;
  // The element's declared length; whether the file holds those bytes is checked when the frames
  // are decoded (checkFramesPresent), after the series' geometry is known: a reader given only the
  // file's first bytes (the Worker's) still learns it.
  if (pixel.length < frameBytes * frames) {
    throw new InputError(
      'dicom_truncated',
      `${what}: PixelData holds fewer bytes than ${frames} frame(s) of ${rows}x${cols}`,
    );
  }
  const shared = item(ds, 'x52009229');
  const perFrameSeq = ds.elements['x52009230']?.items;
  const seriesUid = ds.string('x0020000e') ?? '';
  const signed = (ds.uint16('x00280103') ?? 0) === 1;
  const out: DicomFrame[] = [];
  for (let f = 0; f < frames; f++) {
    const pf = perFrameSeq?.[f]?.dataSet;
    const ownPosition = numbers(item(pf, 'x00209113'), 'x00200032');
    const position = ownPosition ?? groupValue(ds, undefined, shared, 'x00209113', 'x00200032');
    const orientation = groupValue(ds, pf, shared, 'x00209116', 'x00200037') ?? [1, 0, 0, 0, 1, 0];
    const spacing = groupValue(ds, pf, shared, 'x00289110', 'x00280030') ??
      numbers(ds, 'x00181164') /* ImagerPixelSpacing */ ?? [1, 1];
    const step =
      groupValue(ds, pf, shared, 'x00289110', 'x00180088')?.[0] ??
      groupValue(ds, pf, shared, 'x00289110', 'x00180050')?.[0];
    const slope = groupValue(ds, pf, shared, 'x00289145', 'x00281053')?.[0] ?? 1;
    const intercept = groupValue(ds, pf, shared, 'x00289145', 'x00281052')?.[0] ?? 0;
    if (orientation.length !== 6 || spacing.length < 2 || !(spacing[0] > 0 && spacing[1] > 0)) {
      throw new InputError('dicom_bad_geometry', `${what}: bad ImageOrientationPatient or PixelSpacing`);
    }
    if (position !== null && position.length !== 3) {
      throw new InputError('dicom_bad_geometry', `${what}: ImagePositionPatient needs 3 values`);
    }
    out.push({
      file: ds.byteArray,
      offset: pixel.dataOffset + f * frameBytes,
      littleEndian: UNCOMPRESSED[ts],
      rows,
      cols,
      bitsAllocated,
      bitsStored,
      signed,
      slope: slope === 0 ? 1 : slope,
      intercept,
      position,
      positionPerFrame: ownPosition !== null,
      orientation,
      pixelSpacing: [spacing[0], spacing[1]],
      sliceStep: step !== undefined && step > 0 ? step : null,
      seriesUid,
      frameIndex: f,
    });
  }
  return out;
}

/** Throws `dicom_truncated` when a frame's pixels run past the end of its file. */
export function checkFramePresent(frame: DicomFrame, what: string): void {
  const end = frame.offset + (frame.rows * frame.cols * frame.bitsAllocated) / 8;
  if (end > frame.file.length) {
    throw new InputError(
      'dicom_truncated',
      `${what}: PixelData holds fewer bytes than its frames of ${frame.rows}x${frame.cols}`,
    );
  }
}

/** Decodes one frame's stored values into `out` (rows·cols floats), applying bits stored and rescale. */
export function decodeFrame(frame: DicomFrame, out: Float32Array): void {
  const bytes = frame.file;
  const n = frame.rows * frame.cols;
  const size = frame.bitsAllocated / 8;
  const view = new DataView(bytes.buffer, bytes.byteOffset + frame.offset, n * size);
  const le = frame.littleEndian;
  const shift = 32 - frame.bitsStored;
  const mask = frame.bitsStored >= 32 ? 0xffffffff : 2 ** frame.bitsStored - 1;
  const { slope, intercept, signed } = frame;
  for (let i = 0; i < n; i++) {
    const raw =
      size === 1 ? view.getUint8(i) : size === 2 ? view.getUint16(2 * i, le) : view.getUint32(4 * i, le);
    // Only the low BitsStored bits carry the value; a signed value is sign-extended from there.
    const value = signed ? (raw << shift) >> shift : (raw & mask) >>> 0;
    out[i] = value * slope + intercept;
  }
}

/** Name of the stored datatype of a frame, e.g. 'int16'. */
export function frameDatatype(frame: DicomFrame): string {
  return `${frame.signed ? 'int' : 'uint'}${frame.bitsAllocated}`;
}
