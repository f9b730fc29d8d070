// The PNG answer: pixel values must be the labels themselves (clients rely on them), and the palette
// must make every foreground label visible (a grey 0/1 PNG looks black in any viewer).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode } from 'fast-png';
import { labelPalette } from './label-palette.js';
import { labelPng } from './result-encoding.js';

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
