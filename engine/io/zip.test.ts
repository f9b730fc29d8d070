// Zipped DICOM series: sizes checked before inflating, and the failures a hostile or wrong zip gives.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { deflateSync, zipSync } from 'fflate';
import { LimitError } from '../errors.js';
import { readImage } from './read-image.js';
import { resolveLimits } from './limits.js';
import { isZip, readZipEntries, zipSliceBytes } from './zip.js';

const CT = new Uint8Array(
  readFileSync(new URL('../../../../shared/data/fixtures/dicom/CT_small.dcm', import.meta.url)),
);

test('a zip holding one DICOM file reads as that file; folders and dotfiles are skipped', () => {
  const zip = zipSync({ 'scan/': {}, 'scan/.DS_Store': new Uint8Array(3), 'scan/ct.dcm': CT });
  assert.ok(isZip(zip));
  const fromZip = readImage(zip);
  const direct = readImage(CT);
  assert.deepEqual(fromZip.shape, direct.shape);
  assert.deepEqual(fromZip.affine, direct.affine);
  assert.deepEqual(fromZip.data, direct.data);
});

test('declared sizes over the decompressed limit fail before inflating (a zip bomb)', () => {
  const bomb = zipSync({ 'a.dcm': new Uint8Array(4 << 20), 'b.dcm': new Uint8Array(4 << 20) }, { level: 9 });
  assert.ok(bomb.length < 64 * 1024, 'zeros compress well');
  assert.throws(
    () => readZipEntries(bomb, resolveLimits({ maxDecompressedBytes: 6 << 20 })),
    (err: Error) => err instanceof LimitError && (err as LimitError).code === 'decompressed_too_large',
  );
  assert.throws(
    () => readImage(bomb, { limits: { maxDecompressedBytes: 6 << 20 } }),
    (err: Error) => err instanceof LimitError,
  );
});

test('a zip without slices, a damaged zip and a zip of non-DICOM files are refused as input errors', () => {
  assert.throws(() => readImage(zipSync({ 'empty/': {} })), { code: 'dicom_empty_series' });
  const damaged = zipSync({ 'a.dcm': CT }).slice(0, 200);
  assert.throws(
    () => readImage(damaged),
    (err: Error & { status?: number }) => err.status === 422,
  );
  assert.throws(
    () => readImage(zipSync({ 'notes.txt': new TextEncoder().encode('not a slice') })),
    (err: Error & { status?: number }) => err.status !== undefined && err.status >= 400 && err.status < 500,
  );
});

/**
 * A zip whose central directory lists `count` entries, each pointing at the one local entry (a
 * stream of `payload` with `method`), each declaring `declared` bytes: the reviewer's bombs.
 */
function sharedDataZip(count: number, payload: Uint8Array, method: 0 | 8, declared: number): Uint8Array {
  const name = (i: number) => new TextEncoder().encode(`s${String(i).padStart(5, '0')}.dcm`);
  const local = new Uint8Array(30 + 10 + payload.length);
  let dv = new DataView(local.buffer);
  dv.setUint32(0, 0x04034b50, true);
  dv.setUint16(8, method, true);
  dv.setUint32(18, payload.length, true);
  dv.setUint32(22, declared, true);
  dv.setUint16(26, 10, true);
  local.set(name(0), 30);
  local.set(payload, 40);
  const dir = new Uint8Array(count * 56);
  dv = new DataView(dir.buffer);
  for (let i = 0; i < count; i++) {
    const at = i * 56;
    dv.setUint32(at, 0x02014b50, true);
    dv.setUint16(at + 10, method, true);
    dv.setUint32(at + 20, payload.length, true);
    dv.setUint32(at + 24, declared, true);
    dv.setUint16(at + 28, 10, true);
    dir.set(name(i), at + 46);
  }
  const end = new Uint8Array(22);
  dv = new DataView(end.buffer);
  dv.setUint32(0, 0x06054b50, true);
  dv.setUint16(8, count, true);
  dv.setUint16(10, count, true);
  dv.setUint32(12, dir.length, true);
  dv.setUint32(16, local.length, true);
  return Uint8Array.from([...local, ...dir, ...end]);
}

test('entries that share one stream, or inflate past what they declare, are refused before the work', () => {
  const limits = resolveLimits({});
  const zeros = deflateSync(new Uint8Array(16 << 20), { level: 9 });
  // 16 entries declaring 0 bytes over one 16 MiB bomb: fflate's unzipSync inflated it 16 times.
  assert.throws(() => readZipEntries(sharedDataZip(16, zeros, 8, 0), limits), { code: 'bad_zip' });
  // 50 stored entries over one 2 MB payload: unzipSync copied it 50 times (100 MB).
  assert.throws(() => readZipEntries(sharedDataZip(50, new Uint8Array(2e6), 0, 0), limits), {
    code: 'bad_zip',
  });
  // One entry alone: inflating past its declared size stops at that size, and a stored entry's
  // sizes must agree.
  assert.throws(() => readZipEntries(sharedDataZip(1, zeros, 8, 1000), limits), {
    code: 'bad_zip',
    message: /inflates to more than it declares/,
  });
  assert.throws(() => readZipEntries(sharedDataZip(1, new Uint8Array(100), 0, 10), limits), {
    code: 'bad_zip',
  });
  // The same single entry declaring its true size reads.
  const [whole] = readZipEntries(sharedDataZip(1, deflateSync(CT), 8, CT.length), limits);
  assert.deepEqual(whole, CT);
});

test('the file cap counts slices, not the folders and AppleDouble copies a macOS zip adds', () => {
  const files: Record<string, Uint8Array> = {};
  // 10,000 slices as macOS zips them: each with its __MACOSX/._ copy, 20,000 entries in all.
  for (let i = 0; i < 10_000; i++) {
    files[`s/${String(i).padStart(5, '0')}.dcm`] = new Uint8Array(1);
    files[`__MACOSX/s/._${String(i).padStart(5, '0')}.dcm`] = new Uint8Array(1);
  }
  const limits = resolveLimits({});
  assert.equal(readZipEntries(zipSync(files, { level: 0 }), limits).length, 10_000);
  files['s/one-more.dcm'] = new Uint8Array(1);
  assert.throws(() => readZipEntries(zipSync(files, { level: 0 }), limits), { code: 'too_many_files' });
});

test("zipSliceBytes: the slices' declared bytes from the directory, whole file or its last bytes", () => {
  const zip = zipSync({
    'scan/': {},
    'scan/.DS_Store': new Uint8Array(3),
    'scan/a.dcm': CT,
    'scan/b.dcm': CT,
  });
  assert.equal(zipSliceBytes(zip), 2 * CT.length);
  // The Worker reads an upload's end only: the directory and end record are there.
  const tailStart = zip.length - 400;
  assert.equal(zipSliceBytes(zip.subarray(tailStart), tailStart), 2 * CT.length);
  // A tail that misses the start of the directory tells nothing; nor does a damaged zip.
  assert.equal(zipSliceBytes(zip.subarray(zip.length - 60), zip.length - 60), null);
  assert.equal(zipSliceBytes(zip.subarray(0, 200)), null);
});
