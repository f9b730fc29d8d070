// Zipped DICOM series: sizes checked before inflating, and the failures a hostile or wrong zip gives.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { zipSync } from 'fflate';
import { LimitError } from '../errors.js';
import { readImage } from './read-image.js';
import { resolveLimits } from './limits.js';
import { isZip, readZipEntries } from './zip.js';

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
