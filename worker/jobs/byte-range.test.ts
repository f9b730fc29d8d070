import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseByteRange } from './byte-range.js';

/** The 416 every unsatisfiable range answers, with the size clients need to ask again. */
const unsatisfiable = (size: number) => ({
  code: 'range_not_satisfiable',
  status: 416,
  headers: { 'Content-Range': `bytes */${size}` },
});

describe('parseByteRange', () => {
  it('reads closed, open-ended and suffix ranges as inclusive offsets', () => {
    assert.deepEqual(parseByteRange('bytes=0-99', 1000), { start: 0, end: 99 });
    assert.deepEqual(parseByteRange('bytes=10-10', 1000), { start: 10, end: 10 });
    assert.deepEqual(parseByteRange('bytes=900-', 1000), { start: 900, end: 999 });
    assert.deepEqual(parseByteRange('bytes=-100', 1000), { start: 900, end: 999 });
    assert.deepEqual(parseByteRange('bytes=999-999', 1000), { start: 999, end: 999 });
    assert.deepEqual(parseByteRange('  bytes=5-6  ', 10), { start: 5, end: 6 });
  });

  it('clamps a last position past the end, and a suffix longer than the body, to the body', () => {
    assert.deepEqual(parseByteRange('bytes=990-5000', 1000), { start: 990, end: 999 });
    assert.deepEqual(parseByteRange('bytes=0-99999999999999999999', 10), { start: 0, end: 9 });
    assert.deepEqual(parseByteRange('bytes=-5000', 1000), { start: 0, end: 999 });
  });

  it('takes the unit case-insensitively', () => {
    assert.deepEqual(parseByteRange('Bytes=0-1', 10), { start: 0, end: 1 });
    assert.deepEqual(parseByteRange('BYTES=-2', 10), { start: 8, end: 9 });
  });

  it('answers the whole body for no header, other units, several ranges and malformed specs', () => {
    for (const header of [
      undefined,
      '',
      'bytes=-',
      'bytes=0-1,5-6',
      'bytes=0-1, 5-6',
      'items=0-1',
      'bytes 0-1',
      'bytes=a-b',
      'bytes=-1-2',
      'bytes=1.5-2',
      'bytes=0x10-',
      'bytes=٣-',
      'bytes=--1',
    ]) {
      assert.equal(parseByteRange(header, 100), null, JSON.stringify(header));
    }
  });

  it('refuses a first position at or past the end with 416 and the size', () => {
    assert.throws(() => parseByteRange('bytes=1000-', 1000), unsatisfiable(1000));
    assert.throws(() => parseByteRange('bytes=1000-2000', 1000), unsatisfiable(1000));
    assert.throws(() => parseByteRange('bytes=99999999999999999999-', 1000), unsatisfiable(1000));
  });

  it('refuses a last position before the first, and an empty suffix', () => {
    assert.throws(() => parseByteRange('bytes=5-4', 10), unsatisfiable(10));
    assert.throws(() => parseByteRange('bytes=-0', 10), unsatisfiable(10));
    assert.throws(() => parseByteRange('bytes=-000', 10), unsatisfiable(10));
  });

  it('has no satisfiable range of an empty body', () => {
    assert.throws(() => parseByteRange('bytes=0-', 0), unsatisfiable(0));
    assert.throws(() => parseByteRange('bytes=0-0', 0), unsatisfiable(0));
    assert.throws(() => parseByteRange('bytes=-1', 0), unsatisfiable(0));
    assert.equal(parseByteRange('bytes=0-1,2-3', 0), null);
  });
});
