/**
 * @module
 * A zip of a DICOM series, read from its central directory with every size checked before a byte is
 * inflated: the declared sizes against the read limits, each entry's data inside the file and apart
 * from every other entry's, and each entry inflated under a limit of its declared size.
 *
 * Why not fflate's `unzipSync`: it inflates each entry to its end whatever the entry declares (the
 * output past the declared size is dropped, the work is not), and entries may share one compressed
 * stream, so a 16 KB zip of entries declaring 0 bytes cost seconds of CPU and a 2 MB one 100 MB of
 * memory. The directory walk here is the format's own (APPNOTE 4.3.12, 4.3.7, 4.3.16); inflation is
 * fflate's, through {@link LimitedInflater}.
 */
import { InputError, LimitError, UnsupportedError } from '../errors.js';
import { NODE_LIMIT_CODES } from '../protocol/node-limits.js';
import { LimitedInflater } from './gzip.js';
import type { ReadLimits } from './limits.js';

/** Most slice files one zip may hold (a series is one file per slice). */
const MAX_ENTRIES = 10_000;
/** Most entries of any kind: folders and macOS's AppleDouble copies (`__MACOSX/._*`) come on top. */
const MAX_RAW_ENTRIES = 4 * MAX_ENTRIES;

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_DIRECTORY = 0x06054b50;
/** The end record is 22 bytes, after which a comment of at most 65535 bytes may follow. */
const END_SEARCH = 22 + 0xffff;

/** Whether `bytes` start like a zip archive (a local file header). */
export function isZip(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04
  );
}

// Folders, macOS resource forks and hidden files are not slices.
const isSliceName = (name: string) =>
  !name.endsWith('/') && !name.startsWith('__MACOSX/') && !name.split('/').pop()!.startsWith('.');

/** One central-directory entry: where its data lies and what it declares. */
interface Entry {
  name: string;
  method: number;
  /** Compressed bytes, from `start` in the file. */
  size: number;
  originalSize: number;
  start: number;
}

const badZip = (detail: string) => new InputError('bad_zip', `zip: ${detail}`);

/** The files of a zip, in name order, within `limits.maxDecompressedBytes` altogether. */
export function readZipEntries(bytes: Uint8Array, limits: ReadLimits): Uint8Array[] {
  const entries = centralDirectory(bytes).filter((e) => isSliceName(e.name));
  if (entries.length === 0) throw new InputError('dicom_empty_series', 'the zip holds no files');
  if (entries.length > MAX_ENTRIES) {
    throw new LimitError('too_many_files', `the zip holds more than ${MAX_ENTRIES} files`);
  }
  let declared = 0;
  for (const e of entries) {
    declared += e.originalSize;
    if (declared > limits.maxDecompressedBytes) {
      throw new LimitError(
        NODE_LIMIT_CODES.decompressedBytes,
        `zip: its files need more than ${limits.maxDecompressedBytes} decompressed bytes`,
      );
    }
  }
  // Each entry's data is its own: entries sharing one stream would inflate it once each.
  const byStart = [...entries].sort((a, b) => a.start - b.start);
  for (let i = 1; i < byStart.length; i++) {
    const [prev, next] = [byStart[i - 1], byStart[i]];
    if (prev.start + prev.size > next.start) throw badZip(`${prev.name} and ${next.name} overlap`);
  }
  const names = new Set<string>();
  for (const e of entries) {
    if (names.has(e.name)) throw badZip(`${e.name} is in it twice`);
    names.add(e.name);
  }
  return [...entries]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((e) => inflate(bytes, e));
}

/** An entry's bytes; anything but exactly its declared size is a damaged (or hostile) zip. */
function inflate(bytes: Uint8Array, e: Entry): Uint8Array {
  const data = bytes.subarray(e.start, e.start + e.size);
  if (e.method === 0) {
    if (e.size !== e.originalSize) throw badZip(`${e.name} is stored with another size than it declares`);
    return data.slice();
  }
  const inflater = new LimitedInflater(data, e.originalSize, 'deflate', `zip entry ${e.name}`, () =>
    badZip(`${e.name} inflates to more than it declares`),
  );
  const out = new Uint8Array(e.originalSize);
  const got = inflater.readInto(out);
  inflater.drain();
  if (got !== e.originalSize) throw badZip(`${e.name} inflates to less than it declares`);
  return out;
}

/** One central-directory record, before its local header is looked at. */
interface DirectoryEntry {
  name: string;
  method: number;
  size: number;
  originalSize: number;
  /** File offset of its local header. */
  local: number;
}

/**
 * The end record and central directory of a zip given its last bytes, `tail`, which start at file
 * offset `base` (0 for the whole file); null when the directory begins before `tail`.
 */
function readDirectory(
  tail: Uint8Array,
  base: number,
): { entries: DirectoryEntry[]; dirStart: number } | null {
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  let end = -1;
  for (let at = tail.length - 22; at >= Math.max(0, tail.length - END_SEARCH); at--) {
    if (u32(at) === END_OF_DIRECTORY) {
      end = at;
      break;
    }
  }
  if (end < 0) throw badZip('no end of central directory record (truncated?)');
  const [count, dirSize, dirStart] = [u16(end + 10), u32(end + 12), u32(end + 16)];
  if (u16(end + 4) !== 0 || u16(end + 6) !== 0 || u16(end + 8) !== count) {
    throw new UnsupportedError('zip_unsupported', 'zip: archives split over several files are not read');
  }
  if (count === 0xffff || dirStart === 0xffffffff || dirSize === 0xffffffff) {
    throw new UnsupportedError('zip_unsupported', 'zip: ZIP64 archives are not read');
  }
  if (count > MAX_RAW_ENTRIES) {
    throw new LimitError('too_many_files', `the zip holds more than ${MAX_RAW_ENTRIES} entries`);
  }
  if (dirStart + dirSize > base + end) throw badZip('the central directory lies outside the file');
  if (dirStart < base) return null;
  const entries: DirectoryEntry[] = [];
  const names = new TextDecoder();
  for (let i = 0, at = dirStart - base; i < count; i++) {
    if (at + 46 > end || u32(at) !== CENTRAL_HEADER) throw badZip(`central directory entry ${i} is damaged`);
    const [flags, method, size, originalSize] = [u16(at + 8), u16(at + 10), u32(at + 20), u32(at + 24)];
    const [nameLength, extraLength, commentLength, local] = [
      u16(at + 28),
      u16(at + 30),
      u16(at + 32),
      u32(at + 42),
    ];
    const name = names.decode(tail.subarray(at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extraLength + commentLength;
    if (flags & 1) throw new UnsupportedError('zip_unsupported', `zip: ${name} is encrypted`);
    if (method !== 0 && method !== 8) {
      throw new UnsupportedError('zip_unsupported', `zip: ${name} uses compression method ${method}`);
    }
    entries.push({ name, method, size, originalSize, local });
  }
  return { entries, dirStart };
}

/**
 * The uncompressed bytes a zip's slice files declare, from its last bytes `tail` (starting at file
 * offset `base`), or null when its directory is not within them or cannot be read. Every voxel of
 * a DICOM series takes at least one of those bytes, so it bounds the series' voxels: what the
 * Worker holds against a tenant's budget for a zip it cannot otherwise read (worker/jobs/work-check.ts).
 */
export function zipSliceBytes(tail: Uint8Array, base = 0): number | null {
  try {
    const dir = readDirectory(tail, base);
    if (!dir) return null;
    return dir.entries.filter((e) => isSliceName(e.name)).reduce((sum, e) => sum + e.originalSize, 0);
  } catch {
    return null;
  }
}

/** The central directory's entries, each checked to lie inside the file. */
function centralDirectory(bytes: Uint8Array): Entry[] {
  const { entries, dirStart } = readDirectory(bytes, 0)!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  return entries.map(({ name, method, size, originalSize, local }) => {
    if (local + 30 > dirStart || u32(local) !== LOCAL_HEADER) throw badZip(`${name} has no local header`);
    const start = local + 30 + u16(local + 26) + u16(local + 28);
    if (start + size > dirStart) throw badZip(`${name} runs past its data`);
    return { name, method, size, originalSize, start };
  });
}
