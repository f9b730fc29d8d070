// Bounded gzip/zlib inflation and read limits.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync, zlibSync } from 'fflate';
import { DEFAULT_READ_LIMITS, LimitedInflater, inflateLimited, resolveLimits } from './index.js';
import { assertCode } from './test-helpers.js';
import { concatBytes } from '../protocol/bytes.js';

describe('LimitedInflater', () => {
  let seed = 12345;
  // pseudo-random bytes compress poorly, so a small read cannot inflate the whole stream
  const plain = new Uint8Array(300000).map(() => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  it('round trips gzip and zlib, pulling only what is asked for', () => {
    assert.deepEqual(inflateLimited(gzipSync(plain), 1e6), plain);
    assert.deepEqual(inflateLimited(zlibSync(plain), 1e6, 'zlib'), plain);
    const inf = new LimitedInflater(gzipSync(plain), 1e6);
    assert.deepEqual(inf.read(10), plain.subarray(0, 10));
    assert.ok(inf.produced < plain.length, 'the whole stream was inflated for a 10-byte read');
    assert.equal(inf.skip(100), 100);
    assert.deepEqual(inf.read(5), plain.subarray(110, 115));
  });
  it('a gzip bomb is stopped near the limit, not after inflating it all', () => {
    const bomb = gzipSync(new Uint8Array(64 << 20), { level: 9 });
    assert.ok(bomb.length < 100000);
    const inf = new LimitedInflater(bomb, 1 << 20);
    assertCode(() => inf.fill(Number.MAX_SAFE_INTEGER), 'decompressed_too_large');
    assert.ok(inf.produced < (1 << 20) + 8 * (1 << 20), `produced ${inf.produced}`);
  });
  it('corrupt and truncated streams are InputErrors', () => {
    const gz = gzipSync(plain);
    assertCode(() => inflateLimited(gz.subarray(0, gz.length >> 1), 1e6), 'corrupt_compressed_data');
    const bad = gz.slice();
    for (let i = 20; i < 60; i++) bad[i] ^= 0x5a;
    assertCode(() => inflateLimited(bad, 1e6), 'corrupt_compressed_data');
  });
  // A gzip member with a file name (FNAME) of `nameBytes` bytes around `data`.
  const named = (data: Uint8Array, nameBytes: number) => {
    const plainGz = gzipSync(data);
    const header = new Uint8Array(10 + nameBytes + 1).fill(0x61);
    header.set(plainGz.subarray(0, 10));
    header[3] = 0x08; // FLG.FNAME
    header[10 + nameBytes] = 0;
    const out = new Uint8Array(header.length + plainGz.length - 10);
    out.set(header);
    out.set(plainGz.subarray(10), header.length);
    return out;
  };
  const concat = concatBytes;
  it('reads a file name in the header, but refuses one too long to be a name (quadratic in fflate)', () => {
    assert.deepEqual(inflateLimited(named(plain, 1000), 1e6), plain);
    assertCode(() => inflateLimited(named(plain, 2 << 20), 1e6), 'corrupt_compressed_data');
  });
  it('reads concatenated members that carry data, refuses runs of empty or one-byte members', () => {
    const blocks = Array.from({ length: 8 }, (_, i) => plain.subarray(i * 32768, (i + 1) * 32768));
    assert.deepEqual(
      inflateLimited(concat(blocks.map((b) => gzipSync(b))), 1e6),
      plain.subarray(0, 8 * 32768),
    );
    const empty = gzipSync(new Uint8Array(0));
    assertCode(
      () => inflateLimited(concat([...Array.from({ length: 20000 }, () => empty), gzipSync(plain)]), 1e6),
      'corrupt_compressed_data',
    );
    const oneByte = gzipSync(new Uint8Array([7]));
    assertCode(
      () => inflateLimited(concat(Array.from({ length: 5000 }, () => oneByte)), 1e6),
      'corrupt_compressed_data',
    );
  });
});

describe('resolveLimits', () => {
  it('merges over the defaults and rejects non-positive values', () => {
    assert.deepEqual(resolveLimits({ maxVoxels: 5 }), { ...DEFAULT_READ_LIMITS, maxVoxels: 5 });
    assertCode(() => resolveLimits({ maxVoxels: 0 }), 'bad_limits');
    assertCode(() => resolveLimits({ maxInputBytes: NaN }), 'bad_limits');
  });
});
