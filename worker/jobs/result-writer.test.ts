// A result streams into R2 in parts of exactly PART_BYTES (all but the last), whatever sizes it
// arrives in, and the parts join to the bytes written; a result under one part is one plain put;
// abort leaves no upload behind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { concatBytes } from '../../engine/edge.js';
import { PART_BYTES, ResultWriter } from './result-writer.js';

/** The part of an R2 bucket ResultWriter calls, recording what it was given. */
function bucket() {
  const seen = { puts: [] as Uint8Array[], parts: [] as Uint8Array[], completed: 0, aborted: 0 };
  const upload = {
    async uploadPart(n: number, bytes: Uint8Array) {
      assert.equal(n, seen.parts.length + 1, 'parts in order, numbered from 1');
      seen.parts.push(bytes);
      return { partNumber: n, etag: String(n) };
    },
    async complete() {
      seen.completed++;
    },
    async abort() {
      seen.aborted++;
    },
  };
  const r2 = {
    async put(_key: string, bytes: Uint8Array) {
      seen.puts.push(bytes);
    },
    async createMultipartUpload() {
      return upload;
    },
  };
  return { r2: r2 as unknown as R2Bucket, seen };
}

/** `total` bytes of a pattern, in pieces of the given sizes, round robin. */
function pieces(total: number, sizes: number[]): Uint8Array[] {
  const all = Uint8Array.from({ length: total }, (_, i) => (i * 31 + (i >> 8)) & 255);
  const out: Uint8Array[] = [];
  for (let at = 0, k = 0; at < total; k++) {
    const n = Math.min(sizes[k % sizes.length], total - at);
    out.push(all.slice(at, at + n));
    at += n;
  }
  return out;
}

describe('ResultWriter', () => {
  it('uploads full parts as they fill, whatever the write sizes, and they join to the input', async () => {
    const { r2, seen } = bucket();
    const w = new ResultWriter(r2, 'k', {});
    const input = pieces(2 * PART_BYTES + 12_345, [1, 65_536, 3 * 2 ** 20, 777]);
    for (const p of input) await w.write(p);
    await w.finish();
    assert.deepEqual(
      seen.parts.map((p) => p.byteLength),
      [PART_BYTES, PART_BYTES, 12_345],
    );
    assert.deepEqual(concatBytes(seen.parts), concatBytes(input));
    assert.equal(seen.completed, 1);
    assert.equal(seen.puts.length, 0);
    assert.equal(w.bytes, 2 * PART_BYTES + 12_345);
  });

  it('puts a result under one part in one call', async () => {
    const { r2, seen } = bucket();
    const w = new ResultWriter(r2, 'k', {});
    const input = pieces(100_000, [3, 4096]);
    for (const p of input) await w.write(p);
    await w.finish();
    assert.deepEqual(seen.puts, [concatBytes(input)]);
    assert.equal(seen.parts.length, 0);
  });

  it('abort drops what was pending and aborts a started upload', async () => {
    const { r2, seen } = bucket();
    const w = new ResultWriter(r2, 'k', {});
    for (const p of pieces(PART_BYTES + 10, [2 ** 20])) await w.write(p);
    await w.abort();
    assert.equal(seen.aborted, 1);
    assert.equal(seen.completed, 0);
  });
});
