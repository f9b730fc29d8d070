// NIfTI writer: round trips (ours → ours must be identical: data exactly, affine exactly, except
// NIfTI-2 → NIfTI-1 where float64 header fields become float32, 1e-5) and nibabel reading what we
// wrote (affine 1e-5 mm: our float64 geometry stored as float32 in NIfTI-1).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT, SHARED_DATA } from '../../test/support/goldens.js';
import { cropGeometry, readImage, resampleGeometry, writeNifti, type ImageVolume } from './index.js';
import { checkEncodable } from '../protocol/result-encoding.js';
import { assertCode, assertMatrixClose } from './test-helpers.js';

const FIX = `${REPO_ROOT}test/fixtures/`;
const PYTHON = '/usr/bin/python3';
const load = (path: string): Uint8Array => new Uint8Array(readFileSync(path));

function roundTrip(v: ImageVolume, gzip: boolean): ImageVolume {
  const back = readImage(writeNifti(v, v.data, { gzip }));
  assert.deepEqual(back.shape, v.shape);
  assert.equal(back.channels, v.channels);
  assert.deepEqual(back.data, v.data);
  return back;
}

describe('round trip: read → write → read gives identical data and affine', () => {
  const names = Object.entries(
    JSON.parse(readFileSync(`${FIX}nifti/expected.json`, 'utf8')) as Record<string, object>,
  )
    .filter(([, e]) => !('error' in e))
    .map(([n]) => n);
  for (const name of names) {
    it(name, () => {
      const v = readImage(load(`${FIX}nifti/${name}`));
      const back = roundTrip(v, name.endsWith('.gz'));
      if (v.format === 'nifti2') {
        assertMatrixClose(back.affine, v.affine, 1e-5);
        assertMatrixClose([back.spacing], [v.spacing], 1e-6, 'spacing');
      } else {
        assert.deepEqual(back.affine, v.affine);
        assert.deepEqual(back.spacing, v.spacing);
      }
      assert.equal(back.nifti!.descrip, v.nifti!.descrip);
      assert.equal(back.nifti!.xyztUnits, v.nifti!.xyztUnits);
      assert.equal(back.nifti!.qformCode, v.nifti!.qformCode);
      assert.equal(back.nifti!.sformCode, v.nifti!.sformCode);
    });
  }
  for (const rel of ['brain-wm/labelsTr/mni152.nii.gz', 'fixtures/mr-aniso/KmeansTest_T1UCharRaw.nii.gz']) {
    it(rel, () => {
      const v = readImage(load(SHARED_DATA + rel));
      const back = roundTrip(v, true);
      assert.deepEqual(back.affine, v.affine);
      const asStored = readImage(writeNifti(v, v.data, { datatype: v.datatype as 'uint8' | 'int16' }));
      assert.equal(asStored.datatype, v.datatype);
      assert.deepEqual(asStored.data, v.data);
    });
  }
});

describe('writer options and errors', () => {
  const v = readImage(load(`${FIX}nifti/dt_int16.nii`));
  it('converts to integer types with rounding half away from zero, refusing what does not fit', () => {
    const data = new Float32Array(v.data.length).fill(1.5);
    data[1] = -2.5;
    data[2] = 254.49;
    const back = readImage(writeNifti(v, data, { datatype: 'int16' }));
    assert.deepEqual([...back.data.subarray(0, 3)], [2, -3, 254]);
    assert.equal(back.datatype, 'int16');
    assertCode(() => writeNifti(v, data, { datatype: 'uint8' }), 'nifti_write_out_of_range');
    data[1] = NaN;
    assertCode(() => writeNifti(v, data, { datatype: 'int32' }), 'nifti_write_out_of_range');
  });
  it('rejects a bad shape, data length, affine or datatype', () => {
    assertCode(() => writeNifti(v, v.data, { shape: [0, 1, 1] }), 'nifti_write_bad_shape');
    assertCode(() => writeNifti(v, v.data.subarray(1)), 'nifti_write_bad_data');
    assertCode(() => writeNifti(v, v.data, { affine: [[1, 0, 0, 0]] }), 'bad_affine');
    assertCode(() => writeNifti(v, v.data, { datatype: 'complex' as 'uint8' }), 'nifti_write_bad_datatype');
  });
  it('switches to NIfTI-2 when an extent exceeds 32767, and back reads identically', () => {
    const data = new Uint8Array(40000).map((_, i) => i % 251);
    const bytes = writeNifti(v, data, { shape: [40000, 1, 1] });
    const back = readImage(bytes);
    assert.equal(back.format, 'nifti2');
    assert.deepEqual(back.shape, [40000, 1, 1]);
    assert.deepEqual(Array.from(back.data), Array.from(data));
  });
  it('a NIfTI-2 source whose int32 fields do not fit NIfTI-1 gets a label map, with them cleared', () => {
    // Found by review: the segmentation ran in full, then the label map's NIfTI-1 header threw.
    const [nx, ny, nz] = [8, 6, 4];
    const buf = new Uint8Array(544 + nx * ny * nz).fill(7, 544);
    const dv = new DataView(buf.buffer);
    dv.setInt32(0, 540, true);
    buf.set([0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], 4);
    dv.setInt16(12, 2, true); // uint8
    dv.setInt16(14, 8, true);
    [3, nx, ny, nz, 1, 1, 1, 1].forEach((d, i) => dv.setBigInt64(16 + 8 * i, BigInt(d), true));
    [1, 2, 2, 2, 0, 0, 0, 0].forEach((p, i) => dv.setFloat64(104 + 8 * i, p, true));
    dv.setBigInt64(168, 544n, true);
    dv.setFloat64(176, 1, true); // scl_slope
    dv.setBigInt64(224, 70000n, true); // slice_start
    dv.setBigInt64(232, -70000n, true); // slice_end
    dv.setInt32(344, 40000, true); // qform_code: not an xform code, ignored by the reader
    dv.setInt32(348, 1, true); // sform_code
    [
      [2, 0, 0, -10],
      [0, 2, 0, -20],
      [0, 0, 2, -30],
    ].forEach((row, r) => row.forEach((x, c) => dv.setFloat64(400 + 32 * r + 8 * c, x, true)));
    dv.setInt32(496, 300, true); // slice_code
    dv.setInt32(500, 70000, true); // xyzt_units
    dv.setInt32(504, 40000, true); // intent_code
    const src = readImage(buf);
    assert.equal(src.format, 'nifti2');
    assert.doesNotThrow(() => checkEncodable('nifti', src));
    const back = readImage(writeNifti(src, new Uint8Array(nx * ny * nz).fill(1), { datatype: 'uint8' }));
    assert.equal(back.format, 'nifti1');
    assert.deepEqual(
      [back.nifti!.intentCode, back.nifti!.sliceStart, back.nifti!.sliceEnd, back.nifti!.sliceCode],
      [0, 0, 0, 0],
    );
    assert.deepEqual([back.nifti!.qformCode, back.nifti!.sformCode, back.nifti!.xyztUnits], [0, 1, 0]);
    assert.deepEqual(back.affine, src.affine);
  });
  it('non-NIfTI sources get sform_code 2 (or 1 for DICOM) and keep their affine', () => {
    const png = readImage(load(`${SHARED_DATA}fixtures/mr-aniso/BrainT1Slice.png`));
    const back = readImage(writeNifti(png, png.data));
    assert.deepEqual(back.affine, png.affine);
    assert.equal(back.nifti!.sformCode, 2);
    const ct = readImage(load(`${SHARED_DATA}fixtures/dicom/CT_small.dcm`));
    const ctBack = readImage(writeNifti(ct, ct.data));
    assertMatrixClose(ctBack.affine, ct.affine, 1e-4);
    assert.equal(ctBack.nifti!.sformCode, 1);
    assert.equal(ctBack.nifti!.qformCode, 1);
  });
});

/** Runs nibabel on `files` and returns, per file, what it reads. Fails loudly without python. */
function nibabelView(files: string[]): {
  affine: number[][];
  qform: number[][];
  shape: number[];
  zooms: number[];
  sum: number;
  codes: number[];
  version: number;
}[] {
  assert.ok(existsSync(PYTHON), `${PYTHON} (with nibabel) is required for this test; CI installs it`);
  const script = `
import json, sys, nibabel as nib, numpy as np
out = []
for f in sys.argv[1:]:
    img = nib.load(f)
    h = img.header
    out.append({'affine': img.affine.tolist(), 'qform': h.get_qform().tolist(), 'shape': list(img.shape),
                'zooms': [float(z) for z in h.get_zooms()], 'sum': float(np.asarray(img.get_fdata()).sum()),
                'codes': [int(h['qform_code']), int(h['sform_code'])], 'version': 2 if isinstance(img, nib.Nifti2Image) else 1})
print(json.dumps(out))`;
  return JSON.parse(execFileSync(PYTHON, ['-c', script, ...files], { encoding: 'utf8' }));
}

describe('nibabel reads what we write', () => {
  it('round trips, crops and resamplings (sform and qform consistent)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nnsam-io-'));
    const mni = readImage(load(`${SHARED_DATA}brain-wm/labelsTr/mni152.nii.gz`));
    const qonly = readImage(load(`${FIX}nifti/qform_only.nii`));
    const noX = readImage(load(`${FIX}nifti/no_xform.nii`));
    const box = {
      start: [20, 30, 40] as [number, number, number],
      end: [150, 200, 130] as [number, number, number],
    };
    const crop = cropGeometry(mni, box);
    const cropped = new Uint8Array(crop.shape[0] * crop.shape[1] * crop.shape[2]);
    let k = 0;
    let cropSum = 0;
    for (let z = box.start[2]; z < box.end[2]; z++)
      for (let y = box.start[1]; y < box.end[1]; y++)
        for (let x = box.start[0]; x < box.end[0]; x++) {
          cropped[k++] = mni.data[x + mni.shape[0] * (y + mni.shape[1] * z)];
          cropSum += cropped[k - 1];
        }
    const rs = resampleGeometry(qonly, [5, 9, 4]);
    const noXCrop = cropGeometry(noX, { start: [1, 1, 0], end: [6, 4, 2] });
    const cases: [
      string,
      Uint8Array,
      ImageVolume | null,
      { affine: number[][]; shape: number[]; spacing: number[] },
    ][] = [
      ['mni.nii.gz', writeNifti(mni, mni.data, { gzip: true, datatype: 'uint8' }), mni, mni],
      ['qonly.nii', writeNifti(qonly, qonly.data), qonly, qonly],
      ['crop.nii.gz', writeNifti(mni, cropped, { ...crop, gzip: true }), null, crop],
      ['resampled.nii', writeNifti(qonly, new Float32Array(180), rs), null, rs],
      ['noxcrop.nii', writeNifti(noX, new Float32Array(30), noXCrop), null, noXCrop],
    ];
    const paths = cases.map(([name, bytes]) => {
      writeFileSync(join(dir, name), bytes);
      return join(dir, name);
    });
    const views = nibabelView(paths);
    cases.forEach(([name, , source, geo], i) => {
      const nb = views[i];
      assertMatrixClose(nb.affine, geo.affine, 1e-5, `${name} affine`);
      assertMatrixClose(nb.qform, geo.affine, 1e-4, `${name} qform`);
      assert.deepEqual(nb.shape, geo.shape, name);
      nb.zooms.forEach((z, a) => assert.ok(Math.abs(z - geo.spacing[a]) < 1e-5, `${name} zoom ${a}`));
      if (source)
        assert.ok(Math.abs(nb.sum - source.data.reduce((s, x) => s + x, 0)) < 1e-3 * Math.max(1, nb.sum));
    });
    assert.equal(views[2].sum, cropSum);
    assert.deepEqual(views[1].codes, [1, 0]);
    assert.deepEqual(views[4].codes, [0, 2]);
  });

  it('crop and resample affines equal nibabel slicer / the grid-centred formula', () => {
    const rel = 'fixtures/mr-aniso/KmeansTest_T1UCharRaw.nii.gz';
    const script = `
import json, nibabel as nib
img = nib.load(${JSON.stringify(SHARED_DATA + rel)})
print(json.dumps(img.slicer[3:100, 10:70, 5:60].affine.tolist()))`;
    assert.ok(existsSync(PYTHON), `${PYTHON} is required`);
    const expected = JSON.parse(execFileSync(PYTHON, ['-c', script], { encoding: 'utf8' })) as number[][];
    const v = readImage(load(SHARED_DATA + rel));
    assertMatrixClose(cropGeometry(v, { start: [3, 10, 5], end: [100, 70, 60] }).affine, expected, 1e-9);
  });
});
