// The streamed .nii.gz is byte-identical to writeNifti after gunzip, for 2D and 3D label maps and
// any slab size, and comes out in several pieces when there are several slabs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gunzipSync } from 'fflate';
import { SHARED_DATA } from '../../test/support/goldens.js';
import { readImage, writeNifti } from '../io/index.js';
import { concatBytes } from './bytes.js';
import { niftiGzipChunks } from './nifti-stream.js';

const SEG = `${SHARED_DATA}fixtures/mr-aniso/KmeansTest_T1KmeansPrelimSegmentation.nii.gz`;
const SLICE = `${SHARED_DATA}fixtures/mr-aniso/BrainT1Slice.png`;

test('3D label map: gunzip of the stream equals writeNifti, for several slab sizes', () => {
  const image = readImage(new Uint8Array(readFileSync(SEG)));
  const labels = Uint8Array.from(image.data);
  const expected = writeNifti(image, labels, { datatype: 'uint8' });
  for (const planes of [1, 5, 8, 1000]) {
    const chunks = [...niftiGzipChunks(image, labels, { planes })];
    assert.deepEqual(gunzipSync(concatBytes(chunks)), expected, `planes ${planes}`);
    if (planes === 1) assert.ok(chunks.length >= image.shape[2], 'one flushed piece per slab at least');
  }
  assert.deepEqual(readImage(concatBytes([...niftiGzipChunks(image, labels)])).data, image.data);
});

test('2D label map (PNG geometry) streams the same bytes as writeNifti', () => {
  const image = readImage(new Uint8Array(readFileSync(SLICE)));
  const labels = Uint8Array.from(image.data, (v) => (v > 100 ? 1 : 0));
  const chunks = [...niftiGzipChunks(image, labels)];
  assert.deepEqual(gunzipSync(concatBytes(chunks)), writeNifti(image, labels, { datatype: 'uint8' }));
  assert.throws(() => [...niftiGzipChunks(image, labels, { planes: 0 })], RangeError);
});
