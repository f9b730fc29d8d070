// Format sniffing, and a deterministic fuzz: truncations and header byte flips of every format
// must either decode or fail with an AppError (stable code) — never a TypeError/RangeError/string.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gzipSync } from 'fflate';
import jpeg from 'jpeg-js';
import { AppError } from '../errors.js';
import { REPO_ROOT, SHARED_DATA } from '../../test/support/goldens.js';
import { readImage, writeNifti } from './index.js';
import { assertCode } from './test-helpers.js';

const load = (path: string): Uint8Array => new Uint8Array(readFileSync(path));
const FIX = `${REPO_ROOT}test/fixtures/`;

describe('readImage sniffing', () => {
  it('dispatches on content, not name', () => {
    const nii = load(`${FIX}nifti/dt_uint8.nii`);
    assert.equal(readImage(nii, { name: 'scan.png' }).format, 'nifti1');
    assert.equal(readImage(gzipSync(nii), { name: 'x' }).format, 'nifti1');
    assert.equal(readImage(load(`${FIX}nifti/nifti2.nii`)).format, 'nifti2');
    assert.equal(readImage(load(`${SHARED_DATA}fixtures/dicom/MR_small.dcm`)).format, 'dicom');
  });
  it('unknown, empty and non-NIfTI gzip input are refused with codes (and the name in the message)', () => {
    assertCode(() => readImage(new Uint8Array(0)), 'empty_input');
    assertCode(
      () => readImage(new TextEncoder().encode('hello world, not an image at all')),
      'unknown_format',
    );
    assertCode(() => readImage(gzipSync(new TextEncoder().encode('plain text'))), 'unknown_format');
    assert.throws(
      () => readImage(new Uint8Array(10), { name: 'upload.nii' }),
      (e: Error) => e instanceof AppError && e.message.startsWith('upload.nii: '),
    );
    assertCode(() => readImage('nope' as unknown as Uint8Array), 'bad_input');
  });
});

/** Small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('fuzz: corrupted inputs fail only with AppErrors', () => {
  const mri = readImage(load(`${FIX}nifti/dt_int16.nii`));
  const smallJpeg = jpeg.encode(
    { width: 24, height: 16, data: new Uint8Array(24 * 16 * 4).map((_, i) => (i * 37) % 251) },
    80,
  ).data;
  const sources: Record<string, Uint8Array> = {
    'nifti1.nii': load(`${FIX}nifti/dt_int16.nii`),
    'nifti1-be.nii': load(`${FIX}nifti/big_endian.nii`),
    'nifti2.nii': load(`${FIX}nifti/nifti2.nii`),
    'four_d.nii.gz': load(`${FIX}nifti/four_d.nii.gz`),
    'written.nii.gz': writeNifti(mri, mri.data, { gzip: true }),
    'mask.png': load(`${SHARED_DATA}fixtures/chest-xray/1-mask.png`),
    'small.jpg': new Uint8Array(smallJpeg),
    'MR_small.dcm': load(`${SHARED_DATA}fixtures/dicom/MR_small.dcm`),
    'multiframe.dcm': load(`${FIX}dicom/multiframe_nopos.dcm`),
  };
  const limits = { maxVoxels: 2_000_000, maxDecompressedBytes: 32 << 20 };
  const codes = new Map<string, number>();

  const attempt = (label: string, bytes: Uint8Array): void => {
    try {
      const v = readImage(bytes, { limits });
      const n = v.shape[0] * v.shape[1] * v.shape[2] * (v.channels ?? 1);
      assert.equal(v.data.length, n, `${label}: data length`);
      assert.ok(
        v.affine.every((row) => row.every(Number.isFinite)),
        `${label}: affine not finite`,
      );
    } catch (err) {
      if (!(err instanceof AppError)) {
        assert.fail(`${label}: threw a non-AppError ${err instanceof Error ? err.stack : String(err)}`);
      }
      codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
    }
  };

  for (const [name, bytes] of Object.entries(sources)) {
    it(name, () => {
      const random = rng(0x5eed + name.length * 131);
      // truncations: every offset in the first 600 bytes (headers), then 40 spread over the rest
      for (let cut = 0; cut < Math.min(600, bytes.length); cut += 7)
        attempt(`${name} cut ${cut}`, bytes.subarray(0, cut));
      for (let i = 0; i < 40; i++) {
        const cut = Math.floor(random() * bytes.length);
        attempt(`${name} cut ${cut}`, bytes.subarray(0, cut));
      }
      // byte flips: 1-4 random bytes in the first 700 bytes, 150 variants
      for (let i = 0; i < 150; i++) {
        const copy = bytes.slice();
        const flips = 1 + Math.floor(random() * 4);
        for (let f = 0; f < flips; f++) {
          const at = Math.floor(random() * Math.min(700, copy.length));
          copy[at] = Math.floor(random() * 256);
        }
        attempt(`${name} flip #${i}`, copy);
      }
    });
  }
  it('the corruptions exercised many distinct error codes', () => {
    assert.ok(codes.size >= 12, `codes seen: ${[...codes.keys()].join(', ')}`);
  });
});
