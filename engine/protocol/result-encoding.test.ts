// The PNG answer: pixel values must be the labels themselves (clients rely on them), and the palette
// must make every foreground label visible (a grey 0/1 PNG looks black in any viewer).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it, test } from 'node:test';
import { decode } from 'fast-png';
import { SHARED_DATA } from '../../test/support/goldens.js';
import { readImage, type ImageVolume, type VoxelArray } from '../io/index.js';
import type { SegmentResult } from '../pipeline/segment.js';
import type { LabelStats } from '../postprocessing/label-stats.js';
import { concatBytes } from './bytes.js';
import { labelPalette } from './label-palette.js';
import { niftiGzipChunks } from './nifti-stream.js';
import { encodeResultBytes, labelPng, maxResultBytes } from './result-encoding.js';

const SEG = `${SHARED_DATA}fixtures/mr-aniso/KmeansTest_T1KmeansPrelimSegmentation.nii.gz`;

/** Bright enough to see on black: full value in HSV, i.e. one channel at 255. */
const isBright = ([r, g, b]: number[]) => Math.max(r, g, b) === 255;

test('labelPng writes an indexed PNG whose indices are the labels, background black, labels bright', () => {
  const [width, height] = [7, 5];
  // Labels 0..3 in stripes, so both the values and the row/column order are checked.
  const labels = Uint8Array.from({ length: width * height }, (_, i) => (i % width) % 4);
  const png = decode(labelPng(width, height, labels));
  assert.deepEqual([png.width, png.height, png.channels, png.depth], [width, height, 1, 8]);
  assert.deepEqual(Uint8Array.from(png.data), labels);
  const palette = png.palette!;
  assert.ok(palette, 'an indexed PNG carries a palette');
  assert.equal(palette.length, 4, 'one entry per label up to the largest');
  assert.deepEqual(palette[0], [0, 0, 0]);
  for (const colour of palette.slice(1)) assert.ok(isBright(colour), `label colour ${colour} is dim`);
});

test('a background-only map is still a valid indexed PNG (one black entry)', () => {
  const png = decode(labelPng(3, 2, new Uint8Array(6)));
  assert.deepEqual(png.palette, [[0, 0, 0]]);
  assert.deepEqual(Uint8Array.from(png.data), new Uint8Array(6));
});

test('all 255 foreground labels get distinct bright colours, none of them black', () => {
  const palette = labelPalette(255);
  assert.equal(palette.length, 256);
  const seen = new Set(palette.map((c) => c.join(',')));
  assert.equal(seen.size, 256, 'every label has its own colour');
  for (const colour of palette.slice(1)) assert.ok(isBright(colour), `label colour ${colour} is dim`);
  assert.throws(() => labelPalette(256), RangeError);
});

// maxResultBytes is what the Worker takes from a node (worker/nodes/remote-run.ts): every encoding
// of every label map must fit it, the incompressible ones and the flush- or row-heavy shapes above all.
describe('maxResultBytes bounds every encoding of a label map', () => {
  const like = readImage(new Uint8Array(readFileSync(SEG)));
  /** Seeded noise: labels deflate cannot shrink. */
  const noise = (n: number, seed: number) => {
    let s = seed >>> 0 || 1;
    return Uint8Array.from({ length: n }, () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return s & 255;
    });
  };
  const shaped = (shape: [number, number, number]): ImageVolume<VoxelArray> => ({
    ...like,
    shape,
    data: new Uint8Array(shape[0] * shape[1] * shape[2]),
  });

  it('NIfTI: noise labels, one plane a flush, and flat shapes', () => {
    const shapes: [number, number, number][] = [
      [64, 48, 40],
      [1, 1, 6000],
      [6000, 1, 1],
      [1, 300, 20],
    ];
    for (const shape of shapes) {
      const voxels = shape[0] * shape[1] * shape[2];
      for (const planes of [1, 8]) {
        const bytes = concatBytes([...niftiGzipChunks(shaped(shape), noise(voxels, voxels), { planes })]);
        assert.ok(bytes.byteLength > voxels, `noise does not compress (${shape})`);
        assert.ok(bytes.byteLength <= maxResultBytes('nifti', shape), `${shape}, ${planes} planes a flush`);
      }
    }
  });

  it('PNG: noise over all 256 labels, wide, tall and square', () => {
    for (const [w, h] of [
      [300, 200],
      [1, 5000],
      [5000, 1],
    ]) {
      const png = labelPng(w, h, noise(w * h, w + 7 * h));
      assert.ok(png.byteLength > w * h);
      assert.ok(png.byteLength <= maxResultBytes('png', [w, h, 1]), `${w}x${h}`);
    }
  });

  it('JSON: a summary of 255 labels and a long runtime description', () => {
    const stats: LabelStats[] = Array.from({ length: 255 }, (_, i) => ({
      label: i + 1,
      name: `label-with-a-long-name-${'x'.repeat(40)}-${i}`,
      voxels: 2 ** 40 + i,
      volume_ml: Math.PI * 1e9,
      bbox: { start: [123456, 234567, 345678], end: [923456, 934567, 945678] },
    }));
    const result = {
      stats,
      runtime: { provider: 'webgpu', adapter: 'a'.repeat(4096) },
    } as unknown as SegmentResult;
    const bytes = encodeResultBytes(
      'json',
      shaped([4, 4, 1]),
      result,
      () => ({ total: 1e12, model: 1e12, queued: 1e12 }),
      8,
    );
    assert.ok(bytes.byteLength <= maxResultBytes('json', [4, 4, 1]));
  });
});
