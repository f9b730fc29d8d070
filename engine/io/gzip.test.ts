// Bounded gzip/zlib inflation and read limits.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync, zlibSync } from 'fflate';
import { DEFAULT_READ_LIMITS, LimitedInflater, inflateLimited, resolveLimits } from './index.js';
import { assertCode } from './test-helpers.js';

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
});

describe('resolveLimits', () => {
  it('merges over the defaults and rejects non-positive values', () => {
    assert.deepEqual(resolveLimits({ maxVoxels: 5 }), { ...DEFAULT_READ_LIMITS, maxVoxels: 5 });
    assertCode(() => resolveLimits({ maxVoxels: 0 }), 'bad_limits');
    assertCode(() => resolveLimits({ maxInputBytes: NaN }), 'bad_limits');
  });
});
