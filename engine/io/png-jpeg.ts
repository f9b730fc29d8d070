/**
 * @module
 * PNG and JPEG as 2D volumes `[w, h, 1]`: x = column, y = row, row 0 = the top row of the picture
 * (memory order is the file's row order). Spacing is [1, 1, 1] and the affine the identity — pixel
 * size metadata (pHYs, JFIF density) is not a physical spacing and is ignored.
 *
 * Colour: by default RGB(A) becomes luminance Y = (299·R + 587·G + 114·B) / 1000 (ITU-R BT.601,
 * the weights of PIL's `convert('L')`, kept as float, not rounded); alpha is dropped. With
 * `rgb: 'channels'` the three colour planes are kept as `channels: 3` (channel-blocked). Grey PNGs
 * of 1/2/4 bits keep their sample values (0..2^bits − 1); palette PNGs are expanded to RGB first.
 */
import { decode as decodePngLib, convertIndexedToRgb } from 'fast-png';
import jpeg from 'jpeg-js';
import { InputError, LimitError, UnsupportedError } from '../errors.js';
import { identity4 } from './affine.js';
import { LimitedInflater } from './gzip.js';
import type { ImageVolume, InspectGeometry } from './image.js';
import { checkDecompressedBytes, checkExtents, checkInputBytes, type ReadLimits } from './limits.js';

/** How colour images are returned. */
export type RgbMode = 'luminance' | 'channels';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** True when `bytes` starts with the PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

/** True when `bytes` starts with a JPEG SOI marker. */
export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

function u32be(b: Uint8Array, at: number): number {
  return ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3];
}

/** The chunks a PNG's pixels need; the rest (text, colour profiles, metadata) is never decoded. */
const PNG_PIXEL_CHUNKS = new Set(['IHDR', 'PLTE', 'tRNS', 'IDAT', 'IEND']);

/**
 * Checks IHDR against the limits, then inflates the IDAT stream once, counting but not keeping
 * its output, so an IDAT bomb fails before fast-png buffers it. Returns the PNG with only the chunks
 * its pixels need: fast-png inflates an iCCP profile (and would other compressed chunks) with no
 * bound, and lets a second IHDR replace the checked size, so neither reaches it.
 */
function checkPng(
  bytes: Uint8Array,
  limits: ReadLimits,
  rgb: RgbMode,
  inspect?: InspectGeometry,
): { width: number; height: number; pixels: Uint8Array } {
  if (bytes.length < 33 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') {
    throw new InputError('png_corrupt', 'PNG has no IHDR chunk');
  }
  const [w, h, depth, colour] = [u32be(bytes, 16), u32be(bytes, 20), bytes[24], bytes[25]];
  const channels = PNG_CHANNELS[colour];
  if (!channels || ![1, 2, 4, 8, 16].includes(depth)) {
    throw new InputError('png_corrupt', `PNG colour type ${colour} with bit depth ${depth} is invalid`);
  }
  checkExtents([w, h], limits, 'PNG');
  inspect?.({ shape: [w, h, 1], spacing: [1, 1, 1], channels: channels >= 3 && rgb === 'channels' ? 3 : 1 });
  const expected = h * (1 + Math.ceil((w * channels * depth) / 8));
  checkDecompressedBytes(expected, limits, 'PNG');
  const kept: Uint8Array[] = [bytes.subarray(0, 8)];
  const idat: Uint8Array[] = [];
  for (let at = 8; at + 8 <= bytes.length;) {
    const len = u32be(bytes, at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (at + 12 + len > bytes.length) break;
    if (type === 'IHDR' && at !== 8) throw new InputError('png_corrupt', 'PNG has a second IHDR chunk');
    if (PNG_PIXEL_CHUNKS.has(type)) kept.push(bytes.subarray(at, at + 12 + len));
    if (type === 'IDAT') idat.push(bytes.subarray(at + 8, at + 8 + len));
    if (type === 'IEND') break;
    at += 12 + len;
  }
  const stream = concatChunks(idat);
  // Adam7 adds at most one filter byte and one padding byte per pass row: < 4 bytes per row + 64.
  // That cap is the header's, not a read limit: past it the file is damaged, on any node.
  new LimitedInflater(
    stream,
    expected + 4 * h + 64,
    'zlib',
    'PNG image data',
    () => new InputError('png_corrupt', `PNG image data inflates to more than its ${w}x${h} header implies`),
  ).drain();
  return { width: w, height: h, pixels: concatChunks(kept) };
}

function concatChunks(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((pos, p) => (out.set(p, pos), pos + p.length), 0);
  return out;
}

/** Decodes a PNG into a `[w, h, 1]` volume. */
export function readPng(
  bytes: Uint8Array,
  limits: ReadLimits,
  rgb: RgbMode = 'luminance',
  inspect?: InspectGeometry,
): ImageVolume {
  checkInputBytes(bytes.length, limits);
  const checked = checkPng(bytes, limits, rgb, inspect);
  const corrupt = (err: unknown) =>
    new InputError('png_corrupt', `PNG could not be decoded: ${(err as Error).message ?? String(err)}`, {
      cause: err,
    });
  let png: ReturnType<typeof decodePngLib>;
  try {
    png = decodePngLib(checked.pixels);
  } catch (err) {
    throw corrupt(err);
  }
  if (png.width !== checked.width || png.height !== checked.height) {
    throw new InputError('png_corrupt', 'PNG size changed while decoding');
  }
  let { data, channels, depth } = png;
  if (png.palette) {
    // fast-png throws a plain Error for an index past the palette: the file's fault, not ours
    // (found by review: an 86-byte PNG was a 500, so the Worker tried every node and answered 503).
    try {
      data = convertIndexedToRgb(png);
    } catch (err) {
      throw corrupt(err);
    }
    channels = png.palette[0]?.length ?? 3;
    depth = 8;
  } else if (depth < 8) {
    data = unpackBits(data as Uint8Array, png.width, png.height, depth);
  }
  return toVolume(
    png.width,
    png.height,
    data,
    channels,
    channels >= 3,
    depth === 16 ? 'uint16' : 'uint8',
    'png',
    rgb,
  );
}

function unpackBits(packed: Uint8Array, w: number, h: number, depth: number): Uint8Array {
  const out = new Uint8Array(w * h);
  const rowBytes = Math.ceil((w * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const bit = x * depth;
      out[y * w + x] = (packed[y * rowBytes + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

/** A JPEG's frame header (SOF): what the decoder will allocate for, read before it runs. */
interface JpegFrame {
  width: number;
  height: number;
  /** Per component: horizontal and vertical sampling factors (1..4). */
  sampling: [number, number][];
  /**
   * The most bytes jpeg-js counts for the file's quantisation and Huffman tables, from the DQT and DHT
   * segments the walk saw (jpeg-js reads a table past a short segment's end, hence the slack).
   */
  tableBytes: number;
}

/**
 * Most scans (SOS markers) a JPEG may have. jpeg-js walks every block of the image on every scan of
 * a progressive JPEG whatever the scan holds, so a file of empty scans costs minutes of CPU per MB;
 * real progressive files have about 10 (libjpeg's defaults), 20 at most with per-component scans.
 */
export const MAX_JPEG_SCANS = 100;

const isSof = (marker: number): boolean =>
  marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

/**
 * Walks every marker (entropy-coded data skipped, its 0xFF bytes are stuffed) and returns the one
 * frame header, so that limits apply before decoding. jpeg-js allocates every component's blocks at
 * each SOF it meets and refuses a second frame only at the end: a few hundred bytes of SOFs made it
 * allocate gigabytes. One frame, of 1, 3 or 4 components (grey, YCbCr/RGB, CMYK: what jpeg-js
 * converts) with the standard's sampling factors, and at most {@link MAX_JPEG_SCANS} scans.
 */
function jpegFrame(bytes: Uint8Array): JpegFrame {
  let frame: Omit<JpegFrame, 'tableBytes'> | undefined;
  let scans = 0;
  let tableBytes = 0;
  for (let at = 2; at + 3 < bytes.length;) {
    const marker = bytes[at + 1];
    if (bytes[at] !== 0xff) {
      if (!frame) throw new InputError('jpeg_corrupt', 'JPEG marker expected');
      at += 1;
      continue;
    }
    if (marker === 0xff) {
      at += 1;
      continue;
    }
    if (marker === 0xd9) break;
    // Markers without a length: RSTn and TEM.
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    const len = (bytes[at + 2] << 8) | bytes[at + 3];
    if (len < 2) throw new InputError('jpeg_corrupt', 'JPEG marker segment shorter than its length field');
    if (isSof(marker)) {
      if (frame) throw new InputError('jpeg_corrupt', 'JPEG has more than one frame header (SOF)');
      frame = sofOf(bytes.subarray(at + 4, at + 2 + len), len - 2);
    }
    // jpeg-js counts 256 bytes a quantisation table (65 or 129 bytes of the file each), and 16 plus
    // the code count a Huffman table (17 plus the count of the file each), the last one read whole.
    if (marker === 0xdb) tableBytes += 256 * Math.ceil((len - 2) / 65);
    if (marker === 0xc4) tableBytes += len - 2 + 16 + 16 * 255;
    at += 2 + len;
    if (marker !== 0xda) continue;
    if (!frame) throw new InputError('jpeg_corrupt', 'JPEG scan before its frame header (SOF)');
    if (++scans > MAX_JPEG_SCANS) {
      throw new LimitError('jpeg_too_many_scans', `JPEG has more than ${MAX_JPEG_SCANS} scans`);
    }
    // The scan's data ends at the first marker that is neither a stuffed 0xFF00 nor an RSTn.
    while (
      at + 1 < bytes.length &&
      !(bytes[at] === 0xff && bytes[at + 1] !== 0 && !(bytes[at + 1] >= 0xd0 && bytes[at + 1] <= 0xd7))
    ) {
      at += 1;
    }
  }
  if (!frame) throw new InputError('jpeg_corrupt', 'JPEG has no frame header (SOF)');
  return { ...frame, tableBytes };
}

/** Parses a SOF segment's body (`length` bytes as declared, `body` what the file holds of them). */
function sofOf(body: Uint8Array, length: number): Omit<JpegFrame, 'tableBytes'> {
  const components = body[5];
  // Exactly its component list: jpeg-js ignores the length and reads on after the list, so slack
  // would hide markers from this walk that the decoder acts on.
  if (body.length < length || length < 6 || length !== 6 + 3 * components) {
    throw new InputError('jpeg_corrupt', 'JPEG frame header (SOF) length does not match its components');
  }
  if (components !== 1 && components !== 3 && components !== 4) {
    throw new UnsupportedError(
      'jpeg_unsupported',
      `JPEG with ${components} colour components (1, 3 or 4 are read)`,
    );
  }
  const sampling: [number, number][] = [];
  for (let c = 0; c < components; c++) {
    const hv = body[6 + 3 * c + 1];
    const h = hv >> 4;
    const v = hv & 15;
    if (h < 1 || h > 4 || v < 1 || v > 4) {
      throw new InputError('jpeg_corrupt', `JPEG sampling factors ${h}x${v} (each must be 1 to 4)`);
    }
    sampling.push([h, v]);
  }
  return { height: (body[1] << 8) | body[2], width: (body[3] << 8) | body[4], sampling };
}

/**
 * Bytes jpeg-js holds while it decodes `f`, with `perBlock` bytes counted for each coefficient block:
 * every component's blocks, allocated per MCU as one Int32Array(64) each, each component's samples,
 * the interleaved pixels (a byte a component) and the RGB result (jpeg-js counts all of these). jpeg-js itself counts 256 a block; V8 takes about 620 with its per-array
 * overhead (measured: 2.46 GB for 3.98 M blocks), so the read limit is checked with 640.
 */
function jpegDecoderBytes(f: JpegFrame, perBlock: number): number {
  const maxH = Math.max(...f.sampling.map(([h]) => h));
  const maxV = Math.max(...f.sampling.map(([, v]) => v));
  const mcusPerLine = Math.ceil(f.width / 8 / maxH);
  const mcusPerColumn = Math.ceil(f.height / 8 / maxV);
  let bytes = (3 + f.sampling.length) * f.width * f.height;
  for (const [h, v] of f.sampling) {
    bytes += mcusPerLine * h * mcusPerColumn * v * perBlock;
    bytes +=
      Math.ceil((Math.ceil(f.width / 8) * h) / maxH) * Math.ceil((Math.ceil(f.height / 8) * v) / maxV) * 64;
  }
  return bytes;
}

const JPEG_BYTES_PER_BLOCK = 640;
const JPEG_JS_BYTES_PER_BLOCK = 256;

/** Decodes a baseline or progressive JPEG into a `[w, h, 1]` volume. */
export function readJpeg(
  bytes: Uint8Array,
  limits: ReadLimits,
  rgb: RgbMode = 'luminance',
  inspect?: InspectGeometry,
): ImageVolume {
  checkInputBytes(bytes.length, limits);
  const frame = jpegFrame(bytes);
  const { width: w, height: h } = frame;
  const components = frame.sampling.length;
  const pixels = checkExtents([w, h], limits, 'JPEG');
  inspect?.({
    shape: [w, h, 1],
    spacing: [1, 1, 1],
    channels: components >= 3 && rgb === 'channels' ? 3 : 1,
  });
  // The decoder's memory and the float32 volume made from its result, before jpeg-js allocates any.
  checkDecompressedBytes(jpegDecoderBytes(frame, JPEG_BYTES_PER_BLOCK) + pixels * 4, limits, 'JPEG');
  // jpeg-js's own cap, in its own accounting, is the frame and tables found here, and 1 MiB besides:
  // a frame the walk did not see (jpeg-js reads some segments past their declared length) trips it
  // before its blocks are allocated, within 1 MiB of counted (~2.5 MiB of real) memory.
  const decoderCap = jpegDecoderBytes(frame, JPEG_JS_BYTES_PER_BLOCK) + frame.tableBytes + 2 ** 20;
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: Math.max(1, pixels / 1e6 + 1),
      maxMemoryUsageInMB: decoderCap / 2 ** 20,
    });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    // Past the cap of the frame its header declares: the file asks jpeg-js for more than that
    // frame (a second frame hidden from the walk), so it is damaged, whatever node reads it.
    if (/^maxMemoryUsageInMB limit exceeded/.test(msg)) {
      throw new InputError('jpeg_corrupt', `JPEG decodes to more than its frame header declares: ${msg}`);
    }
    if (/unsupported|not supported/i.test(msg))
      throw new UnsupportedError('jpeg_unsupported', `JPEG: ${msg}`);
    throw new InputError('jpeg_corrupt', `JPEG could not be decoded: ${msg}`, { cause: err });
  }
  if (img.width !== w || img.height !== h)
    throw new InputError('jpeg_corrupt', 'JPEG size changed while decoding');
  // jpeg-js always returns RGB; a one-component JPEG has R = G = B = Y.
  return toVolume(w, h, img.data, 3, components >= 3, 'uint8', 'jpeg', rgb);
}

function toVolume(
  w: number,
  h: number,
  data: ArrayLike<number>,
  channels: number,
  colour: boolean,
  datatype: string,
  format: 'png' | 'jpeg',
  rgb: RgbMode,
): ImageVolume {
  const n = w * h;
  const keep = colour && rgb === 'channels' ? 3 : 1;
  const out = new Float32Array(n * keep);
  if (!colour) {
    for (let i = 0; i < n; i++) out[i] = data[i * channels];
  } else if (keep === 3) {
    for (let c = 0; c < 3; c++) for (let i = 0; i < n; i++) out[c * n + i] = data[i * channels + c];
  } else {
    for (let i = 0; i < n; i++) {
      const p = i * channels;
      out[i] = (299 * data[p] + 587 * data[p + 1] + 114 * data[p + 2]) / 1000;
    }
  }
  const volume: ImageVolume = {
    shape: [w, h, 1],
    spacing: [1, 1, 1],
    affine: identity4(),
    data: out,
    datatype,
    format,
  };
  if (keep > 1) volume.channels = keep;
  return volume;
}
