// Modality warnings on the shared fixtures: a chest X-ray JPEG given to the brain T1 model is flagged,
// the brain slices and volumes it was made for are not (a PNG of an MR slice is a legitimate input).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SHARED_DATA } from '../../test/support/goldens.js';
import { readImage } from '../io/index.js';
import { parseManifest, type ModelManifest } from './manifest.js';
import { modalityWarnings } from './modality.js';

const SHIPPED = fileURLToPath(new URL('../../../models/brain-wm-2d/manifest.json', import.meta.url));
const brainT1 = parseManifest(readFileSync(SHIPPED, 'utf8'), 'brain-wm-2d');
const read = (rel: string) => readImage(new Uint8Array(readFileSync(SHARED_DATA + rel)), { name: rel });

test('a chest X-ray JPEG given to the brain T1 model: one warning naming JPEG and T1', () => {
  const xray = read('fixtures/chest-xray/1.jpg');
  const warnings = modalityWarnings(brainT1, xray);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /JPEG.*model brain-wm-2d expects T1.*meaningless/);
});

test('the brain inputs the T1 model is for: no warning (PNG slice, NIfTI volumes, an MR DICOM)', () => {
  for (const rel of [
    'fixtures/mr-aniso/BrainT1Slice.png',
    'brain-wm/imagesTr/fsB_0000.nii.gz',
    'fixtures/mr-aniso/KmeansTest_T1UCharRaw.nii.gz',
    'fixtures/dicom/MR_small.dcm',
  ]) {
    assert.deepEqual(modalityWarnings(brainT1, read(rel)), [], rel);
  }
});

test('a CT model: 8-bit PNG/JPEG inputs are flagged, a CT DICOM (int16 HU) is not', () => {
  const ct: ModelManifest = { ...brainT1, id: 'ct-demo', modality: ['CT'] };
  const png = modalityWarnings(ct, read('fixtures/mr-aniso/BrainT1Slice.png'));
  assert.equal(png.length, 1, png.join('\n'));
  assert.match(png[0], /8-bit.*Hounsfield/);
  assert.equal(modalityWarnings(ct, read('fixtures/chest-xray/1.jpg')).length, 2);
  assert.deepEqual(modalityWarnings(ct, read('fixtures/dicom/CT_small.dcm')), []);
});

test('no modality field: the channel names decide; unknown names are not judged', () => {
  const xray = read('fixtures/chest-xray/1.jpg');
  const byChannel: ModelManifest = { ...brainT1, modality: undefined };
  assert.equal(modalityWarnings(byChannel, xray).length, 1);
  const photo: ModelManifest = { ...brainT1, modality: ['photo'] };
  assert.deepEqual(modalityWarnings(photo, xray), []);
});

test('a 3D model given one 2D plane is flagged; a 3D volume is not', () => {
  const fullres: ModelManifest = { ...brainT1, configuration: '3d_fullres' };
  const [w] = modalityWarnings(fullres, read('fixtures/mr-aniso/BrainT1Slice.png'));
  assert.match(w, /one 2D plane.*3d_fullres/);
  assert.deepEqual(modalityWarnings(fullres, read('brain-wm/imagesTr/fsB_0000.nii.gz')), []);
});
