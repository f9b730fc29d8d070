// DICOM reading against pydicom/numpy (expectations from test/fixtures/make_fixtures.py).
// Voxel values: exact (stored integers · slope + intercept are exact in float32 here);
// affines: 1e-6 mm (decimal strings parsed on both sides).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readNpy } from '../../test/support/npy.js';
import { REPO_ROOT, SHARED_DATA } from '../../test/support/goldens.js';
import { orientationCodes, readDicomSeries, readImage } from './index.js';
import { assertCode, assertMatrixClose } from './test-helpers.js';

const DIR = `${REPO_ROOT}test/fixtures/dicom/`;
const load = (path: string): Uint8Array => new Uint8Array(readFileSync(path));
const expected = JSON.parse(readFileSync(`${DIR}expected.json`, 'utf8'));
const seriesFiles = (): Uint8Array[] =>
  readdirSync(`${DIR}series`)
    .sort()
    .map((f) => load(`${DIR}series/${f}`));

describe('DICOM series', () => {
  it('sorts shuffled slices by position, applies rescale, builds the RAS affine', () => {
    const v = readDicomSeries(seriesFiles());
    const exp = expected.series;
    assert.deepEqual(v.shape, exp.shape);
    assertMatrixClose([v.spacing], [exp.spacing], 1e-9, 'spacing');
    assertMatrixClose(v.affine, exp.affine, 1e-6);
    assert.equal(v.datatype, 'int16');
    assert.equal(v.format, 'dicom');
    assert.deepEqual(v.data, readNpy(`${DIR}series.npy`).data);
    // LPS row cosine +x (towards patient left), column cosine −z (inferior), normal +y (posterior)
    assert.equal(orientationCodes(v.affine), 'LIP');
  });
  it('the order of the files does not matter', () => {
    const a = readDicomSeries(seriesFiles());
    const b = readDicomSeries(seriesFiles().reverse());
    assert.deepEqual(b.data, a.data);
    assert.deepEqual(b.affine, a.affine);
  });
  it('a missing slice (gap) is refused, as are duplicates and mixed series', () => {
    const files = seriesFiles();
    const v = readDicomSeries(files);
    const n = v.shape[0] * v.shape[1];
    // find the file holding the third slice and drop it
    const third = files.findIndex((f) => readDicomSeries([f]).data.every((x, i) => x === v.data[2 * n + i]));
    assert.ok(third >= 0);
    assertCode(() => readDicomSeries(files.filter((_, i) => i !== third)), 'dicom_nonuniform_spacing');
    assertCode(() => readDicomSeries([...files, files[0]]), 'dicom_duplicate_slice');
    assertCode(
      () => readDicomSeries([files[0], load(`${DIR}multiframe_nopos.dcm`)]),
      'dicom_inconsistent_series',
    );
    assertCode(() => readDicomSeries([]), 'dicom_empty_series');
  });
  it('limits apply to the whole series before pixels are decoded', () => {
    assertCode(
      () => readDicomSeries(seriesFiles(), { limits: { maxVoxels: 48 * 40 * 5 } }),
      'too_many_voxels',
    );
    assertCode(() => readDicomSeries(seriesFiles(), { limits: { maxInputBytes: 10000 } }), 'input_too_large');
  });
});

describe('DICOM multi-frame and variants', () => {
  it('per-frame positions (frames stored in reverse) give the same volume as the series', () => {
    const v = readImage(load(`${DIR}multiframe.dcm`));
    assert.deepEqual(v.shape, expected.multiframe.shape);
    assertMatrixClose(v.affine, expected.multiframe.affine, 1e-6);
    assert.deepEqual(v.data, readNpy(`${DIR}series.npy`).data);
  });
  it('without per-frame groups, frames stack along the normal by SpacingBetweenSlices (uint8)', () => {
    const v = readImage(load(`${DIR}multiframe_nopos.dcm`));
    const exp = expected.multiframe_nopos;
    assert.deepEqual(v.shape, exp.shape);
    assert.equal(v.datatype, 'uint8');
    assertMatrixClose([v.spacing], [exp.spacing], 1e-9, 'spacing');
    assertMatrixClose(v.affine, exp.affine, 1e-6);
    assert.deepEqual(v.data, readNpy(`${DIR}multiframe_nopos.npy`).data);
  });
  it('explicit VR big endian', () => {
    const v = readImage(load(`${DIR}big_endian.dcm`));
    const n = 48 * 40;
    assert.deepEqual(v.data, (readNpy(`${DIR}series.npy`).data as Float32Array).subarray(2 * n, 3 * n));
  });
  it('a compressed transfer syntax is a 415 naming the UID', () => {
    assert.throws(
      () => readImage(load(`${DIR}jpeg_compressed.dcm`)),
      (err: Error & { code?: string; status?: number }) =>
        err.code === 'dicom_unsupported_transfer_syntax' &&
        err.status === 415 &&
        err.message.includes('1.2.840.10008.1.2.4.50'),
    );
  });
});

describe('real DICOM files (pydicom test data)', () => {
  for (const name of ['CT_small', 'MR_small']) {
    it(name, () => {
      const v = readImage(load(`${SHARED_DATA}fixtures/dicom/${name}.dcm`));
      const exp = expected[name];
      const raw = readNpy(`${DIR}${name}.npy`).data;
      assert.deepEqual(v.shape, exp.shape);
      assertMatrixClose([v.spacing], [exp.spacing], 1e-9, 'spacing');
      assertMatrixClose(v.affine, exp.affine, 1e-6);
      for (let i = 0; i < raw.length; i++) assert.equal(v.data[i], raw[i] * exp.slope + exp.intercept);
    });
  }
  it('truncated and damaged files fail with typed errors', () => {
    const ct = load(`${SHARED_DATA}fixtures/dicom/CT_small.dcm`);
    assertCode(() => readImage(ct.subarray(0, ct.length - 100)), 'dicom_corrupt');
    assertCode(() => readDicomSeries([ct.subarray(0, 100)]), 'dicom_bad_magic');
  });
});
