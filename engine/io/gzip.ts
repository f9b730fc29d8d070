/**
 * @module
 * Bounded decompression. fflate's streaming inflaters are fed small input slices so that the output
 * of one push stays small (deflate expands at most ~1032x), and a byte counter aborts with a
 * {@link LimitError} as soon as the output passes the limit — a gzip bomb never gets materialised.
 */
import { Gunzip, Inflate, Unzlib, gzipSync } from 'fflate';
import { AppError, InputError, LimitError } from '../errors.js';
import { NODE_LIMIT_CODES } from '../protocol/node-limits.js';

/** Compressed bytes pushed per step: bounds one step's output to ~4 MiB. */
const INPUT_SLICE = 4096;

/**
 * Compressed bytes that may go in with nothing coming out. fflate holds a gzip member's header
 * until it is complete, copying all it holds on every push: a header field (a file name, a
 * comment) of n bytes costs n^2 / 8 KiB of copying, minutes for 32 MiB (found by review). Real
 * deflate data gives output at least every stored block (64 KiB at most), so 256 KiB without
 * any is a header that long, or a run of empty members.
 */
const MAX_SILENT_INPUT = 256 * 1024;

/**
 * Members a gzip stream may hold: 16, plus one per 4 KiB of output so far. A concatenated stream
 * (bgzip's blocks hold up to 64 KiB each) is read as one; thousands of members of a byte each,
 * each a header to parse (about 16 us), are refused (found by review: 27 s of CPU for 32 MiB).
 */
const FREE_MEMBERS = 16;
const OUTPUT_PER_MEMBER = 4096;

/** True when `bytes` starts with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * A pull-based inflater over an in-memory compressed buffer: callers ask for bytes as they need
 * them, so a reader can parse a header before deciding how much output it accepts.
 */
export class LimitedInflater {
  private readonly stream: Gunzip | Unzlib | Inflate;
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private inputPos = 0;
  private ended = false;
  /** Compressed bytes pushed since the last output. */
  private silent = 0;
  private members = 1;
  /** Total bytes produced so far. */
  produced = 0;

  constructor(
    private readonly input: Uint8Array,
    /** Output beyond this many bytes aborts with `overLimit`'s error. */
    public limit: number,
    private readonly kind: 'gzip' | 'zlib' | 'deflate' = 'gzip',
    private readonly what = 'gzip stream',
    /**
     * The error past `limit`: by default the read limit's 413 `decompressed_too_large`, which is a
     * node's setting (engine/protocol/node-limits.ts). A cap the data itself declares (a zip entry's
     * size, a PNG's header) says instead that the data is damaged, on any node.
     */
    private readonly overLimit: () => AppError = () =>
      new LimitError(
        NODE_LIMIT_CODES.decompressedBytes,
        `${what}: decompressed data exceeds the limit of ${limit} bytes`,
      ),
  ) {
    const ondata = (chunk: Uint8Array, final: boolean): void => {
      if (final) this.ended = true;
      if (chunk.length === 0) return;
      this.produced += chunk.length;
      if (this.produced > this.limit) throw this.overLimit();
      this.queue.push(chunk);
      this.queued += chunk.length;
    };
    if (kind === 'gzip') {
      const gunzip = new Gunzip(ondata);
      gunzip.onmember = () => {
        if (++this.members > FREE_MEMBERS + this.produced / OUTPUT_PER_MEMBER) {
          throw new InputError(
            'corrupt_compressed_data',
            `${what}: more concatenated gzip members (${this.members}) than its output (${this.produced} bytes) accounts for`,
          );
        }
      };
      this.stream = gunzip;
    } else {
      this.stream = kind === 'zlib' ? new Unzlib(ondata) : new Inflate(ondata);
    }
  }

  /** True once the compressed stream is exhausted and every produced byte was taken. */
  get done(): boolean {
    return this.queued === 0 && (this.ended || this.inputPos >= this.input.length);
  }

  /** Decompresses until at least `n` bytes are queued or the stream ends; returns the count queued. */
  fill(n: number): number {
    while (this.queued < n && !this.ended && this.inputPos < this.input.length) {
      const end = Math.min(this.input.length, this.inputPos + INPUT_SLICE);
      const slice = this.input.subarray(this.inputPos, end);
      this.inputPos = end;
      const before = this.produced;
      try {
        this.stream.push(slice, end === this.input.length);
      } catch (err) {
        // Our own refusals (overLimit's) as they are; anything else is fflate's, on damaged data.
        if (err instanceof AppError) throw err;
        throw new InputError(
          'corrupt_compressed_data',
          `${this.what}: ${(err as Error).message ?? String(err)}`,
          {
            cause: err,
          },
        );
      }
      this.silent = this.produced > before ? 0 : this.silent + slice.length;
      if (this.silent > MAX_SILENT_INPUT) {
        throw new InputError(
          'corrupt_compressed_data',
          `${this.what}: ${this.silent} compressed bytes gave no output (a gzip header field that long, or empty members)`,
        );
      }
    }
    return this.queued;
  }

  /** Copies up to `target.length - offset` bytes into `target`; returns how many were copied. */
  readInto(target: Uint8Array, offset = 0): number {
    let pos = offset;
    while (pos < target.length) {
      if (this.queue.length === 0 && this.fill(1) === 0) break;
      const head = this.queue[0];
      const take = Math.min(head.length, target.length - pos);
      target.set(head.subarray(0, take), pos);
      pos += take;
      this.queued -= take;
      if (take === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(take);
    }
    return pos - offset;
  }

  /** Returns the next `n` bytes (fewer only when the stream ends first). */
  read(n: number): Uint8Array {
    const out = new Uint8Array(Math.min(n, this.fill(n)));
    this.readInto(out);
    return out;
  }

  /** Discards the next `n` bytes; returns how many were discarded (fewer at end of stream). */
  skip(n: number): number {
    let left = n;
    while (left > 0) {
      if (this.queue.length === 0 && this.fill(1) === 0) break;
      const head = this.queue[0];
      const take = Math.min(head.length, left);
      left -= take;
      this.queued -= take;
      if (take === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(take);
    }
    return n - left;
  }

  /** Decompresses the rest, discarding it (still counted against the limit). */
  drain(): void {
    while (this.fill(Number.MAX_SAFE_INTEGER) > 0) {
      this.queue.length = 0;
      this.queued = 0;
    }
  }
}

/** Decompresses a whole gzip or zlib buffer, aborting past `limit` output bytes. */
export function inflateLimited(
  bytes: Uint8Array,
  limit: number,
  kind: 'gzip' | 'zlib' | 'deflate' = 'gzip',
  what?: string,
): Uint8Array {
  const inflater = new LimitedInflater(bytes, limit, kind, what);
  const total = inflater.fill(Number.MAX_SAFE_INTEGER);
  const out = new Uint8Array(total);
  inflater.readInto(out);
  return out;
}

/** Gzips `data` at zlib's default level 6. */
export function gzipBytes(data: Uint8Array): Uint8Array {
  return gzipSync(data, { level: 6 });
}
