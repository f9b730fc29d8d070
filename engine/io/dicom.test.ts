// DICOM reading against pydicom/numpy (expectations from test/fixtures/make_fixtures.py).
// Voxel values: exact (stored integers · slope + intercept are exact in float32 here);
// affines: 1e-6 mm (decimal strings parsed on both sides).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readNpy } from '../../test/support/npy.js';
import { REPO_ROOT, SHARED_DATA } from '../../test/support/goldens.js';
import { inHeap } from '../../test/support/in-heap.js';
import { MAX_DICOM_HEADER_BYTES, MAX_SERIES_HEADER_ELEMENTS } from './dicom-parse.js';
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
    // CT_small ends with a padding element after its pixels; cutting into the pixels is caught.
    assertCode(() => readImage(ct.subarray(0, ct.length - 2000)), 'dicom_truncated');
    assertCode(() => readImage(ct.subarray(0, 3000)), 'dicom_corrupt');
    assertCode(() => readDicomSeries([ct.subarray(0, 100)]), 'dicom_bad_magic');
  });
});

/** Distinct private tags, VR CS, length 0: 8 bytes an element, the cheapest bytes of heap to cost. */
function emptyElements(count: number): Uint8Array {
  const body = new Uint8Array(count * 8);
  const dv = new DataView(body.buffer);
  for (let i = 0; i < count; i++) {
    dv.setUint16(8 * i, 0x0009 + 2 * Math.floor(i / 0xff00), true);
    dv.setUint16(8 * i + 2, 0x0100 + (i % 0xff00), true);
    body.set([0x43, 0x53], 8 * i + 4);
  }
  return body;
}

describe('a header of empty elements', () => {
  it('is read up to MAX_DICOM_HEADER_BYTES and refused past it, before it is parsed whole', () => {
    const tiny = tinyFrames(1);
    const bomb = new Uint8Array(tiny.length + MAX_DICOM_HEADER_BYTES);
    // The meta group, then the empty elements, then the tiny file's own data set.
    // The preamble and DICM, the group length (UL) and the transfer syntax (UI, 20 bytes).
    const metaEnd = 132 + 12 + 28;
    bomb.set(tiny.subarray(0, metaEnd));
    bomb.set(emptyElements(MAX_DICOM_HEADER_BYTES / 8), metaEnd);
    bomb.set(tiny.subarray(metaEnd), metaEnd + MAX_DICOM_HEADER_BYTES);
    assertCode(() => readImage(bomb), 'dicom_header_too_large');
    // The same file with few empty elements reads: the bound is on size, not on private tags.
    const fine = Uint8Array.from([
      ...tiny.subarray(0, metaEnd),
      ...emptyElements(1000),
      ...tiny.subarray(metaEnd),
    ]);
    assert.deepEqual(readImage(fine).shape, [1, 1, 1]);
  });

  // Each file's parsed header costs ~26 bytes of heap a byte of header, and each frame kept its
  // file's parsed data set until the series was decoded: 12 files with 1 MiB headers (~2.4 MB of
  // zip) held ~300 MB, and a 32 MiB one-shot of 4 MiB headers some 4 GB, an out-of-memory abort of
  // the node. A frame now keeps only its file's bytes, so one header is parsed and dropped at a time.
  it('in a 128 MiB heap, a series of 7 files with 1 MiB headers reads: one parsed header at a time', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nnsam-dicom-headers-'));
    try {
      // 7 x 131072 elements, within MAX_SERIES_HEADER_ELEMENTS; held together, ~180 MB of parsed headers.
      const files = 7;
      for (let z = 0; z < files; z++) {
        writeFileSync(join(dir, `${String(z).padStart(2, '0')}.dcm`), tinyFrames(1, { z, padding: 2 ** 20 }));
      }
      const io = new URL('./index.js', import.meta.url).href;
      const script = `
        import { readdirSync, readFileSync } from 'node:fs';
        import { readDicomSeries } from '${io}';
        const files = readdirSync('${dir}').sort().map((f) => new Uint8Array(readFileSync('${dir}/' + f)));
        console.log(JSON.stringify(readDicomSeries(files).shape));`;
      assert.deepEqual(JSON.parse(inHeap(128, script)), [1, 1, files]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is refused when the series' headers add up past MAX_SERIES_HEADER_ELEMENTS, each within its own bound", () => {
    // A quarter of the budget in each file's header, as 8-byte empty elements: the fourth file passes it.
    const padding = (MAX_SERIES_HEADER_ELEMENTS / 4) * 8;
    const series = (n: number) => Array.from({ length: n }, (_, z) => tinyFrames(1, { z, padding }));
    assert.deepEqual(readDicomSeries(series(3)).shape, [1, 1, 3]);
    assertCode(() => readDicomSeries(series(4)), 'dicom_header_too_large');
    // Bytes are not the measure: headers of one large element each (a Siemens CSA header is one) read,
    // past what a byte budget of the same parsing time would allow (found by review: one refused real
    // series), and declared pixels the files do not hold buy nothing.
    const blob = MAX_DICOM_HEADER_BYTES - 4096;
    const large = Array.from({ length: 12 }, (_, z) => tinyFrames(1, { z, blob }));
    assert.deepEqual(readDicomSeries(large).shape, [1, 1, 12]);
  });
});

/**
 * A minimal explicit-VR little-endian Part 10 file: `frames` frames of 1x1 (`side` x `side`) 8-bit pixels; with `z`, at
 * ImagePositionPatient (0, 0, z); with `padding`, that many bytes of empty elements in its header;
 * with `blob`, one private OB element of that many bytes.
 */
function tinyFrames(
  frames: number,
  options: { z?: number; padding?: number; blob?: number; orientation?: string; side?: number } = {},
): Uint8Array {
  const side = options.side ?? 1;
  const u16 = (v: number) => Buffer.from(Uint16Array.of(v).buffer);
  const u32 = (v: number) => Buffer.from(Uint32Array.of(v).buffer);
  const el = (group: number, elem: number, vr: string, value: Buffer): Buffer => {
    const v = value.length % 2 ? Buffer.concat([value, Buffer.from(vr === 'UI' ? '\0' : ' ')]) : value;
    const long = ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr);
    return Buffer.concat([
      u16(group),
      u16(elem),
      Buffer.from(vr),
      long ? Buffer.concat([Buffer.alloc(2), u32(v.length)]) : u16(v.length),
      v,
    ]);
  };
  const ts = el(2, 0x10, 'UI', Buffer.from('1.2.840.10008.1.2.1'));
  return new Uint8Array(
    Buffer.concat([
      Buffer.alloc(128),
      Buffer.from('DICM'),
      el(2, 0, 'UL', u32(ts.length)),
      ts,
      emptyElements(Math.floor((options.padding ?? 0) / 8)),
      ...(options.blob === undefined ? [] : [el(0x09, 0x1000, 'OB', Buffer.alloc(options.blob))]),
      el(0x18, 0x88, 'DS', Buffer.from('2')),
      ...(options.z === undefined ? [] : [el(0x20, 0x32, 'DS', Buffer.from(`0\\0\\${options.z}`))]),
      ...(options.orientation === undefined ? [] : [el(0x20, 0x37, 'DS', Buffer.from(options.orientation))]),
      el(0x28, 2, 'US', u16(1)),
      el(0x28, 8, 'IS', Buffer.from(String(frames))),
      el(0x28, 0x10, 'US', u16(side)),
      el(0x28, 0x11, 'US', u16(side)),
      el(0x28, 0x100, 'US', u16(8)),
      el(0x28, 0x101, 'US', u16(8)),
      el(0x7fe0, 0x10, 'OB', Buffer.alloc(side * side * frames + ((side * side * frames) % 2))),
    ]),
  );
}

describe('slice geometry from positions', () => {
  it('the spacing is measured along the unit normal, even for cosines that are not orthogonal', () => {
    // Row (1, 0, 0), column (0.8, 0.6, 0): their cross product is 0.6 long; slices 2 mm apart.
    const orientation = '1\\0\\0\\0.8\\0.6\\0';
    const v = readDicomSeries([0, 2, 4].map((z) => tinyFrames(1, { z, orientation })));
    assert.ok(Math.abs(v.spacing[2] - 2) < 1e-9, `spacing ${v.spacing[2]}`);
  });
  it('positions that overflow the spacing are dicom_bad_geometry', () => {
    assertCode(
      () => readDicomSeries([-1e308, 0, 1e308].map((z) => tinyFrames(1, { z }))),
      'dicom_bad_geometry',
    );
  });
});

describe('declared frame counts are bounded before frames are built', () => {
  it('a 1x1 multi-frame file reads as a volume of its frames', () => {
    const v = readImage(tinyFrames(5));
    assert.deepEqual(v.shape, [1, 1, 5]);
    assert.deepEqual(v.spacing, [1, 1, 2]);
  });
  // Each frame descriptor costs a few hundred bytes of heap and a 1x1 frame one byte of file: 1.5 MB
  // declaring 1.5M frames, or 30 files of 60,000 (each under the 65,536 dimension limit), built about
  // 400 MB of descriptors before the limit was checked. In a 64 MiB heap that was an out-of-memory
  // abort of the process, not a 413.
  it('in a 64 MiB heap, millions of declared frames are a 413, in one file or across a series', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nnsam-dicom-frames-'));
    try {
      writeFileSync(join(dir, 'one.dcm'), tinyFrames(1_500_000));
      writeFileSync(join(dir, 'part.dcm'), tinyFrames(60_000));
      const io = new URL('./index.js', import.meta.url).href;
      const script = `
        import { readFileSync } from 'node:fs';
        import { readDicomSeries, readGeometry, readImage } from '${io}';
        const code = (f) => { try { f(); return 'no error'; } catch (e) { return e.code + ' ' + e.status; } };
        const one = new Uint8Array(readFileSync('${join(dir, 'one.dcm')}'));
        const part = new Uint8Array(readFileSync('${join(dir, 'part.dcm')}'));
        const limits = { maxInputBytes: 2 ** 30 };
        console.log(JSON.stringify([
          code(() => readImage(one, { limits })),
          code(() => readGeometry(one, { limits })),
          code(() => readDicomSeries(Array(30).fill(part), { limits })),
        ]));`;
      assert.deepEqual(JSON.parse(inHeap(64, script)), [
        'dimension_too_large 413',
        'dimension_too_large 413',
        'dimension_too_large 413',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
