// NIfTI reading against nibabel 5 (expectations written by test/fixtures/make_fixtures.py).
// Tolerances: affines 1e-9 absolute (both sides are float64 from the same float32/float64 fields),
// voxel values: float32 rounding of nibabel's float64 get_fdata() (relative 1e-6).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { NIFTI1, NIFTI2 } from 'nifti-reader-js';
import { gunzipSync, gzipSync } from 'fflate';
import { REPO_ROOT, SHARED_DATA } from '../../test/support/goldens.js';
import { orientationCodes, readImage } from './index.js';
import { MAX_NIFTI_DATA_OFFSET } from './nifti-read.js';
import { assertCode, assertMatrixClose } from './test-helpers.js';

const FIX = `${REPO_ROOT}test/fixtures/`;
const load = (path: string): Uint8Array => new Uint8Array(readFileSync(path));

interface Expected {
  shape: number[];
  channels: number;
  zooms: number[];
  affine: number[][];
  axcodes: string;
  datatype: string;
  data: number[];
  error?: string;
}

describe('NIfTI fixtures (every datatype and transform variant) agree with nibabel', () => {
  const expected = JSON.parse(readFileSync(`${FIX}nifti/expected.json`, 'utf8')) as Record<string, Expected>;
  for (const [name, exp] of Object.entries(expected)) {
    it(name, () => {
      const bytes = load(`${FIX}nifti/${name}`);
      if (exp.error) return assertCode(() => readImage(bytes, { name }), exp.error);
      const v = readImage(bytes, { name });
      assert.deepEqual(v.shape, exp.shape);
      assert.equal(v.channels ?? 1, exp.channels);
      assert.equal(v.datatype, exp.datatype);
      assert.equal(v.format, name.startsWith('nifti2') ? 'nifti2' : 'nifti1');
      v.spacing.forEach((s, i) => assert.ok(Math.abs(s - exp.zooms[i]) < 1e-9, `zoom ${i}`));
      assertMatrixClose(v.affine, exp.affine, 1e-9);
      assert.equal(orientationCodes(v.affine), exp.axcodes);
      assert.equal(v.data.length, exp.data.length);
      for (let i = 0; i < exp.data.length; i++) {
        assert.ok(
          Math.abs(v.data[i] - exp.data[i]) <= 1e-6 * Math.max(1, Math.abs(exp.data[i])),
          `voxel ${i}`,
        );
      }
    });
  }
});

describe('storedType keeps an unscaled 8- or 16-bit image as stored, with the float32 read values', () => {
  const expected = JSON.parse(readFileSync(`${FIX}nifti/expected.json`, 'utf8')) as Record<string, Expected>;
  const KEPT: Record<string, string> = {
    uint8: 'Uint8Array',
    int8: 'Int8Array',
    int16: 'Int16Array',
    uint16: 'Uint16Array',
  };
  /** The file with scl_slope 1 and scl_inter 0 written into its header (either version, either byte order). */
  function unscaled(bytes: Uint8Array): Uint8Array {
    const gz = bytes[0] === 0x1f;
    const raw = gz ? gunzipSync(bytes) : bytes.slice();
    const v = new DataView(raw.buffer);
    const little = v.getInt32(0, true) === 348 || v.getInt32(0, true) === 540;
    if (v.getInt32(0, little) === 348) {
      v.setFloat32(112, 1, little);
      v.setFloat32(116, 0, little);
    } else {
      v.setFloat64(176, 1, little);
      v.setFloat64(184, 0, little);
    }
    return gz ? gzipSync(raw) : raw;
  }
  const cases: [string, Uint8Array][] = [];
  for (const [name, exp] of Object.entries(expected)) {
    if (exp.error) continue;
    cases.push(
      [name, load(`${FIX}nifti/${name}`)],
      [`${name}, unscaled`, unscaled(load(`${FIX}nifti/${name}`))],
    );
  }
  const kept: string[] = [];
  for (const [name, bytes] of cases) {
    it(name, () => {
      const float = readImage(bytes, { name });
      const stored = readImage(bytes, { name, storedType: true });
      const h = float.nifti!;
      const plain =
        h.sclSlope === 0 || !Number.isFinite(h.sclSlope) || (h.sclSlope === 1 && h.sclInter === 0);
      const want = (plain && KEPT[float.datatype]) || 'Float32Array';
      assert.equal(stored.data.constructor.name, want, `${float.datatype}, scl ${h.sclSlope} ${h.sclInter}`);
      if (want !== 'Float32Array') kept.push(name);
      assert.deepEqual(Float32Array.from(stored.data), float.data);
      assert.deepEqual({ ...stored, data: null }, { ...float, data: null });
    });
  }
  it('a gzipped big-endian file (swapped in the inflated buffer, not copied) reads as the plain one', () => {
    const plain = unscaled(load(`${FIX}nifti/big_endian.nii`));
    for (const storedType of [false, true]) {
      const a = readImage(plain, { storedType });
      const b = readImage(gzipSync(plain), { storedType });
      assert.equal(b.data.constructor, a.data.constructor);
      assert.deepEqual(b.data, a.data);
      // The plain file's values are checked against nibabel above; a swap that did not happen differs.
      assert.ok(a.data.some((x) => x !== 0));
    }
  });
  it('kept: every 8- and 16-bit type, big-endian, gzipped NIfTI-2, 4D; scaled ones stay float32', () => {
    const wanted = [
      'dt_uint8.nii, unscaled',
      'dt_int8.nii, unscaled',
      'dt_int16.nii, unscaled',
      'dt_uint16.nii, unscaled',
      'big_endian.nii, unscaled',
      'nifti2.nii.gz, unscaled',
      'four_d.nii.gz',
      'slope_zero.nii',
    ];
    assert.deepEqual(
      wanted.filter((n) => !kept.includes(n)),
      [],
    );
    assert.ok(!kept.includes('dt_int16.nii') && !kept.includes('dt_int32.nii, unscaled'));
  });
});

describe('shared NIfTI files agree with nibabel', () => {
  const golden = JSON.parse(readFileSync(`${FIX}shared-nifti.json`, 'utf8')) as Record<
    string,
    Expected & { sum: number; probes: [number, number][] }
  >;
  for (const [rel, exp] of Object.entries(golden)) {
    it(rel, () => {
      const v = readImage(load(SHARED_DATA + rel), { name: rel });
      assert.deepEqual(v.shape, exp.shape);
      assert.equal(v.datatype, exp.datatype);
      v.spacing.forEach((s, i) => assert.ok(Math.abs(s - exp.zooms[i]) < 1e-9));
      assertMatrixClose(v.affine, exp.affine, 1e-9);
      assert.equal(orientationCodes(v.affine), exp.axcodes);
      let sum = 0;
      for (const x of v.data) sum += x;
      assert.ok(Math.abs(sum - exp.sum) <= 1e-6 * Math.abs(exp.sum), `sum ${sum} vs ${exp.sum}`);
      for (const [i, value] of exp.probes)
        assert.ok(Math.abs(v.data[i] - value) <= 1e-5 * Math.max(1, value));
    });
  }
});

describe('raw header fields agree with nifti-reader-js', () => {
  for (const name of ['dt_int16.nii', 'qform_only.nii', 'big_endian.nii', 'nifti2.nii', 'nifti2.nii.gz']) {
    it(name, () => {
      let bytes = load(`${FIX}nifti/${name}`);
      if (name.endsWith('.gz')) bytes = gunzipSync(bytes);
      const v = readImage(bytes);
      const ref = name.startsWith('nifti2') ? new NIFTI2() : new NIFTI1();
      ref.readHeader(bytes.slice(0, name.startsWith('nifti2') ? 540 : 348).buffer);
      const h = v.nifti!;
      assert.deepEqual(h.dim, ref.dims);
      assert.deepEqual(h.pixdim, ref.pixDims);
      assert.equal(h.datatypeCode, ref.datatypeCode);
      assert.equal(h.qformCode, ref.qform_code);
      assert.equal(h.sformCode, ref.sform_code);
      assert.deepEqual(h.quatern, [ref.quatern_b, ref.quatern_c, ref.quatern_d]);
      assert.equal(h.sclSlope, ref.scl_slope);
      assert.equal(h.descrip, ref.description);
      assert.equal(h.littleEndian, ref.littleEndian);
    });
  }
});

describe('NIfTI limits and malformed headers', () => {
  const small = load(`${FIX}nifti/dt_int16.nii`);
  const withView = (edit: (v: DataView) => void): Uint8Array => {
    const copy = small.slice();
    edit(new DataView(copy.buffer));
    return copy;
  };
  it('refuses by voxels, dimension, input and decompressed size before allocating', () => {
    assertCode(() => readImage(small, { limits: { maxVoxels: 104 } }), 'too_many_voxels');
    assertCode(() => readImage(small, { limits: { maxDimension: 6 } }), 'dimension_too_large');
    assertCode(() => readImage(small, { limits: { maxInputBytes: 100 } }), 'input_too_large');
    assertCode(() => readImage(small, { limits: { maxDecompressedBytes: 400 } }), 'decompressed_too_large');
    const gz = load(`${SHARED_DATA}brain-wm/labelsTr/fsA.nii.gz`);
    assertCode(() => readImage(gz, { limits: { maxDecompressedBytes: 1 << 20 } }), 'decompressed_too_large');
  });
  it('a header declaring 2^31 voxels is a LimitError, not an allocation', () => {
    const huge = withView((v) => [1, 2, 3].forEach((i) => v.setInt16(40 + 2 * i, 30000, true)));
    assertCode(() => readImage(huge), 'too_many_voxels');
    assertCode(() => readImage(huge, { limits: { maxDimension: 1000 } }), 'dimension_too_large');
  });
  it('rejects bad dims, datatypes, offsets, spacing and scaling by code', () => {
    assertCode(() => readImage(withView((v) => v.setInt16(40, 0, true))), 'nifti_bad_dim');
    assertCode(() => readImage(withView((v) => v.setInt16(42, -3, true))), 'bad_dimensions');
    assertCode(() => readImage(withView((v) => v.setInt16(44, 0, true))), 'bad_dimensions');
    assertCode(() => readImage(withView((v) => v.setInt16(70, 3, true))), 'nifti_bad_datatype');
    assertCode(() => readImage(withView((v) => v.setInt16(70, 32, true))), 'nifti_unsupported_datatype');
    assertCode(() => readImage(withView((v) => v.setFloat32(108, 100, true))), 'nifti_bad_vox_offset');
    assertCode(() => readImage(withView((v) => v.setFloat32(108, 352.5, true))), 'nifti_bad_vox_offset');
    assertCode(() => readImage(withView((v) => v.setFloat32(108, 1e6, true))), 'nifti_truncated');
    assertCode(() => readImage(withView((v) => v.setFloat32(80, NaN, true))), 'nifti_bad_spacing');
    assertCode(() => readImage(withView((v) => v.setFloat32(116, Infinity, true))), 'nifti_bad_scaling');
    assertCode(
      () => readImage(withView((v) => (v.setInt16(40, 5, true), v.setInt16(50, 2, true)))),
      'nifti_unsupported_dims',
    );
    assertCode(() => readImage(withView((v) => v.setUint8(345, 0x69))), 'nifti_pair_unsupported');
    assertCode(() => readImage(withView((v) => v.setUint8(346, 0x39))), 'nifti_bad_magic');
    assertCode(() => readImage(small.subarray(0, 300)), 'nifti_truncated');
    assertCode(() => readImage(small.subarray(0, small.length - 1)), 'nifti_truncated');
  });
  it('an unset vox_offset (0) means data right after the header; slope 0 means unscaled', () => {
    const a = readImage(small);
    const b = readImage(withView((v) => v.setFloat32(108, 0, true)));
    assert.deepEqual(b.data, a.data);
    const unscaled = readImage(withView((v) => v.setFloat32(112, 0, true)));
    assert.equal(unscaled.data[0], (a.data[0] + 3) / 0.5);
  });
  it('a gzipped vox_offset past MAX_NIFTI_DATA_OFFSET is refused before any of the gap is inflated', () => {
    const far = withView((v) => v.setFloat32(108, MAX_NIFTI_DATA_OFFSET + 16, true));
    assertCode(() => readImage(gzipSync(far)), 'nifti_extensions_too_large');
    // Uncompressed, the gap is bytes the body holds: such a file is read, here one too short for it.
    assertCode(() => readImage(far), 'nifti_truncated');
  });
  it('nibabel header fixes: zero/negative pixdim and an invalid qfac', () => {
    const v = readImage(withView((dv) => (dv.setFloat32(80, 0, true), dv.setFloat32(84, -3, true))));
    assert.deepEqual(v.spacing, [1, 3, 2]);
    const q = readImage(load(`${FIX}nifti/qform_only.nii`));
    const bytes = load(`${FIX}nifti/qform_only.nii`);
    new DataView(bytes.buffer).setFloat32(76, 0.5, true);
    const fixed = readImage(bytes);
    // qfac 0.5 → 1: the third column flips sign relative to the qfac = -1 original.
    for (let r = 0; r < 3; r++) assert.ok(Math.abs(fixed.affine[r][2] + q.affine[r][2]) < 1e-9);
  });
});
