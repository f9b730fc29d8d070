// PNG/JPEG against PIL (test/fixtures/shared-2d.json). PNG: exact. JPEG: IDCT implementations
// differ (jpeg-js vs libjpeg-turbo): |Δ| ≤ 4 grey levels per pixel and ≤ 0.1 on the mean.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { encode } from 'fast-png';
import { zlibSync } from 'fflate';
import jpeg from 'jpeg-js';
import { REPO_ROOT, SHARED_DATA } from '../../test/support/goldens.js';
import { inHeap } from '../../test/support/in-heap.js';
import { pngChunk } from '../../test/support/png-chunks.js';
import { readImage } from './index.js';
import { MAX_JPEG_SCANS } from './png-jpeg.js';
import { assertCode } from './test-helpers.js';

const load = (path: string): Uint8Array => new Uint8Array(readFileSync(path));
const golden = JSON.parse(readFileSync(`${REPO_ROOT}test/fixtures/shared-2d.json`, 'utf8')) as Record<
  string,
  { width: number; height: number; sum: number; top_left_rows: number[][]; center: number; mode: string }
>;

describe('PNG and JPEG agree with PIL', () => {
  for (const [rel, exp] of Object.entries(golden)) {
    it(rel, () => {
      const v = readImage(load(SHARED_DATA + rel), { name: rel });
      const jpeg = rel.endsWith('.jpg');
      const tol = jpeg ? 4 : 0;
      assert.deepEqual(v.shape, [exp.width, exp.height, 1]);
      assert.deepEqual(v.spacing, [1, 1, 1]);
      assert.equal(v.format, jpeg ? 'jpeg' : 'png');
      const w = exp.width;
      // row 0 is the top row; x = column is fastest in memory
      exp.top_left_rows.forEach((row, y) =>
        row.forEach((value, x) =>
          assert.ok(Math.abs(v.data[y * w + x] - value) <= tol, `pixel (${x}, ${y})`),
        ),
      );
      const c = v.data[Math.floor(exp.height / 2) * w + Math.floor(w / 2)];
      assert.ok(Math.abs(c - exp.center) <= tol);
      const sum = v.data.reduce((s, x) => s + x, 0);
      assert.ok(
        Math.abs(sum - exp.sum) / (w * exp.height) <= (jpeg ? 0.1 : 1e-6),
        `mean differs: ${sum} vs ${exp.sum}`,
      );
    });
  }
  it("rgb: 'channels' keeps the three colour planes, channel-blocked", () => {
    const bytes = load(`${SHARED_DATA}fixtures/mr-aniso/BrainT1Slice.png`);
    const grey = readImage(bytes);
    const rgb = readImage(bytes, { rgb: 'channels' });
    assert.equal(rgb.channels, 3);
    const n = grey.data.length;
    for (let i = 0; i < n; i += 97) {
      const y = (299 * rgb.data[i] + 587 * rgb.data[n + i] + 114 * rgb.data[2 * n + i]) / 1000;
      assert.ok(Math.abs(y - grey.data[i]) < 1e-4);
    }
    const jpg = readImage(load(`${SHARED_DATA}fixtures/chest-xray/1.jpg`), { rgb: 'channels' });
    assert.equal(jpg.channels, undefined, 'a greyscale JPEG stays one channel');
  });
});

describe('PNG variants and errors', () => {
  const pixels = new Uint16Array([0, 1000, 65535, 7, 8, 9]);
  it('16-bit, 1-bit and palette PNGs', () => {
    const v16 = readImage(encode({ width: 3, height: 2, data: pixels, depth: 16, channels: 1 }));
    assert.deepEqual(Array.from(v16.data), Array.from(pixels));
    assert.equal(v16.datatype, 'uint16');
    const bits = new Uint8Array([0b10100000, 0b01100000]);
    const v1 = readImage(encode({ width: 3, height: 2, data: bits, depth: 1, channels: 1 }));
    assert.deepEqual(Array.from(v1.data), [1, 0, 1, 0, 1, 1]);
    const pal = readImage(
      encode({
        width: 2,
        height: 1,
        data: new Uint8Array([0b00010000]),
        depth: 4,
        channels: 1,
        palette: [
          [10, 20, 30],
          [100, 100, 100],
        ],
      }),
    );
    // high nibble first: indices 1, 0
    assert.deepEqual(Array.from(pal.data), [100, Math.fround((299 * 10 + 587 * 20 + 114 * 30) / 1000)]);
  });
  it('a palette index past the palette is png_corrupt, not an internal error', () => {
    const file = encode({
      width: 2,
      height: 1,
      data: new Uint8Array([0b00011111]),
      depth: 4,
      channels: 1,
      palette: [
        [10, 20, 30],
        [100, 100, 100],
      ],
    });
    assertCode(() => readImage(file), 'png_corrupt');
  });
  it('size limits apply to IHDR before decoding, and an IDAT bomb is stopped', () => {
    const big = encode({ width: 2000, height: 2000, data: new Uint8Array(4e6), depth: 8, channels: 1 });
    assertCode(() => readImage(big, { limits: { maxVoxels: 1e6 } }), 'too_many_voxels');
    assertCode(() => readImage(big, { limits: { maxDimension: 1000 } }), 'dimension_too_large');
    // Claim 10x10 in IHDR while IDAT inflates to 4 MB: counted and refused, never decoded. The
    // header's own size is the cap, not a read limit, so the file is damaged on any node.
    const bomb = big.slice();
    const dv = new DataView(bomb.buffer);
    dv.setUint32(16, 10);
    dv.setUint32(20, 10);
    assertCode(() => readImage(bomb), 'png_corrupt');
  });
  it("a colour JPEG over the decompression limit in jpeg-js's own accounting is that limit's 413", () => {
    // 4 bytes a pixel pass the 16 MiB limit; jpeg-js's buffers (~21 bytes a pixel) do not.
    const size = 1200;
    const rgba = new Uint8Array(size * size * 4).map((_, i) => (i * 7) & 255);
    const jpg = new Uint8Array(jpeg.encode({ data: rgba, width: size, height: size }, 90).data);
    assertCode(
      () => readImage(jpg, { limits: { maxDecompressedBytes: 16 * 2 ** 20 } }),
      'decompressed_too_large',
    );
    assert.deepEqual(readImage(jpg).shape, [size, size, 1]);
  });
  it('a second IHDR is refused; ancillary chunks (an iCCP bomb, a broken one) never reach the decoder', () => {
    const plain = encode({
      width: 3,
      height: 2,
      data: Uint8Array.from([1, 2, 3, 4, 5, 6]),
      depth: 8,
      channels: 1,
    });
    // After the signature and IHDR (8 + 25 bytes), as an encoder puts iCCP.
    const withChunk = (type: string, data: Uint8Array) =>
      Uint8Array.from([...plain.subarray(0, 33), ...pngChunk(type, data), ...plain.subarray(33)]);
    // The reviewer's bypass: IHDR 3x2 checked, a later IHDR 20,000,000 x 1 decoded.
    const ihdr = plain.slice(16, 29);
    new DataView(ihdr.buffer).setUint32(0, 20_000_000);
    new DataView(ihdr.buffer).setUint32(4, 1);
    assertCode(() => readImage(withChunk('IHDR', ihdr), { limits: { maxVoxels: 1000 } }), 'png_corrupt');
    // A colour profile of 64 MiB of zeros in 64 KiB, and one whose zlib stream is broken: both are
    // skipped (the old reader inflated the first whole and failed on the second).
    const profile = (z: Uint8Array) => Uint8Array.from([...new TextEncoder().encode('icc'), 0, 0, ...z]);
    const bomb = withChunk('iCCP', profile(zlibSync(new Uint8Array(64 * 2 ** 20))));
    const broken = withChunk('iCCP', profile(Uint8Array.from([0x78, 0x9c, 0xff, 0xff, 0xff])));
    for (const png of [bomb, broken]) {
      const v = readImage(png, { limits: { maxDecompressedBytes: 2 ** 20 } });
      assert.deepEqual(v.shape, [3, 2, 1]);
      assert.deepEqual(Array.from(v.data), [1, 2, 3, 4, 5, 6]);
    }
  });
  it('a progressive JPEG of more than MAX_JPEG_SCANS scans is refused before decoding', () => {
    // SOF2 size x size, one component, DC scans refining nothing: each scan walks every block. The
    // entropy bytes end in a stuffed 0xFF00, which the scan count must step over.
    const jpegOfScans = (scans: number, size: number) => {
      const head = [
        [0xff, 0xd8],
        [0xff, 0xdb, 0, 67, 0, ...new Array<number>(64).fill(1)],
        [0xff, 0xc2, 0, 11, 8, size >> 8, size & 255, size >> 8, size & 255, 1, 1, 0x11, 0],
        [0xff, 0xc4, 0, 20, 0x10, 1, ...new Array<number>(15).fill(0), 0xe0],
      ].flat();
      const scan = [0xff, 0xda, 0, 8, 1, 1, 0x00, 1, 63, 0, 0x7f, 0xff, 0x00];
      return Uint8Array.from([...head, ...Array.from({ length: scans }, () => scan).flat(), 0xff, 0xd9]);
    };
    assert.deepEqual(readImage(jpegOfScans(MAX_JPEG_SCANS, 64)).shape, [64, 64, 1]);
    assertCode(() => readImage(jpegOfScans(MAX_JPEG_SCANS + 1, 64)), 'jpeg_too_many_scans');
  });
  it('a JPEG is refused by its frame header alone when jpeg-js could not decode it, before it allocates', () => {
    const sof = (w: number, h: number, sampling: number[]) => {
      const body = [8, h >> 8, h & 255, w >> 8, w & 255, sampling.length];
      sampling.forEach((hv, i) => body.push(i, hv, 0));
      return [0xff, 0xc0, (body.length + 2) >> 8, (body.length + 2) & 255, ...body];
    };
    const jpegOf = (...frames: number[][]) => Uint8Array.from([0xff, 0xd8, ...frames.flat(), 0xff, 0xd9]);
    // A 1x1 frame, then 200 of 1000x1000 in four components: jpeg-js allocated each frame's blocks
    // (about 620 bytes a block, 63 k blocks a frame) before it refused the second frame at the end.
    const second = sof(1000, 1000, [0x11, 0x11, 0x11, 0x11]);
    const bomb = jpegOf(sof(1, 1, [0x11]), ...Array.from({ length: 200 }, () => second));
    // The same frames hidden from a walk that trusts segment lengths (found by review): in a SOF's
    // slack (jpeg-js reads on after the component list), and after a DQT that declares 1 byte (jpeg-js
    // reads a whole table, into the APP0 that holds them).
    const first = sof(1, 1, [0x11]);
    const slack = first.concat(...Array.from({ length: 200 }, () => second));
    slack.splice(2, 2, (slack.length - 2) >> 8, (slack.length - 2) & 255);
    const hidden = Array.from({ length: 200 }, () => second).flat();
    const app0 = [
      0xff,
      0xe0,
      (62 + hidden.length) >> 8,
      (62 + hidden.length) & 255,
      ...new Array<number>(60).fill(0),
    ];
    const overread = jpegOf(first, [0xff, 0xdb, 0, 3, 0], app0, hidden);
    const io = `${REPO_ROOT}dist/engine/io/index.js`;
    const codes = [bomb, jpegOf(slack), overread].map((b) => JSON.stringify([...b]));
    const script = `import { readImage } from '${io}';
      for (const b of [${codes.join(',')}]) {
        try { readImage(Uint8Array.from(b)); console.log('decoded'); } catch (e) { console.log(e.code); }
      }`;
    assert.deepEqual(inHeap(128, script).trim().split('\n'), [
      'jpeg_corrupt',
      'jpeg_corrupt',
      'jpeg_corrupt',
    ]);
    assertCode(() => readImage(jpegOf(sof(8, 8, [0x11, 0x11]))), 'jpeg_unsupported');
    assertCode(() => readImage(jpegOf(sof(8, 8, new Array<number>(255).fill(0x11)))), 'jpeg_unsupported');
    assertCode(() => readImage(jpegOf(sof(8, 8, [0x51]))), 'jpeg_corrupt');
    assertCode(() => readImage(jpegOf(sof(8, 8, [0x10]))), 'jpeg_corrupt');
    // The decoder's own memory is what the read limit bounds: four full-resolution components of
    // 1000x1000 need about 47 MB, not the 4 MB of the float32 result.
    const big = jpegOf(sof(1000, 1000, [0x11, 0x11, 0x11, 0x11]));
    assertCode(
      () => readImage(big, { limits: { maxDecompressedBytes: 32 * 2 ** 20 } }),
      'decompressed_too_large',
    );
  });
  it('ordinary JPEGs of several megapixels decode within the cap of their own frame', () => {
    // Found by review: the cap first left out jpeg-js's interleaved pixels (a byte a component), and
    // refused every JPEG of about a megapixel and more.
    for (const [w, h, quality] of [
      [1024, 1024, 90],
      [2000, 1500, 50],
      [3000, 2000, 10],
    ]) {
      const rgba = new Uint8Array(w * h * 4).map((_, i) =>
        i % 4 === 3 ? 255 : ((i >> 2) % w) ^ ((i >> 2) / w),
      );
      const file = jpeg.encode({ width: w, height: h, data: rgba }, quality).data;
      assert.deepEqual(readImage(new Uint8Array(file)).shape, [w, h, 1], `${w}x${h} q${quality}`);
    }
  });
  it('corrupt and truncated PNG/JPEG are InputErrors', () => {
    const png = load(`${SHARED_DATA}fixtures/chest-xray/1-mask.png`);
    assertCode(() => readImage(png.subarray(0, 20)), 'png_corrupt');
    assertCode(() => readImage(png.subarray(0, png.length - 200)), 'png_corrupt');
    const jpg = load(`${SHARED_DATA}fixtures/chest-xray/1.jpg`);
    assertCode(() => readImage(jpg.subarray(0, 10)), 'jpeg_corrupt');
    assertCode(() => readImage(jpg, { limits: { maxVoxels: 1000 } }), 'too_many_voxels');
  });
});
