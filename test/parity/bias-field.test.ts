// Parity: the bias-field correction (engine/preprocessing/bias-field.ts) against the study that chose
// it, training/bias_field.py's gated degree-1 estimator, written by goldens_bias_field.py.
// Tolerance: the field's sd within 1e-4 relative; the corrected image within 1e-5 relative per voxel
// (the reference evaluates the plane and its exp in float32, this module in float64), and zero
// exactly where the image is not positive.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { divideField, fieldApplies, fitLogField } from '../../engine/preprocessing/bias-field.js';
import { goldens } from '../support/goldens.js';
import { niftiShape } from '../support/npy.js';

interface BiasFieldCase {
  name: string;
  gate: number;
  image: string;
  labels: string;
  /** Whether the reference fitted a field at all (enough eroded tissue). */
  fitted: boolean;
  sd: number | null;
  applies: boolean;
  corrected?: string;
}

const g = goldens<BiasFieldCase>('bias_field');

test('the golden cases cover a field that is divided out, one under the gate and one not fitted', () => {
  assert.ok(g.cases.some((c) => c.applies));
  assert.ok(g.cases.some((c) => c.fitted && !c.applies));
  assert.ok(g.cases.some((c) => !c.fitted));
});

for (const c of g.cases) {
  test(`bias-field parity: ${c.name}`, () => {
    const img = g.npy(c.image);
    const image = img.data as Float32Array;
    const shape = niftiShape(img.shape);
    const labels = g.npy(c.labels).data as Uint8Array;
    const field = fitLogField(image, shape, labels, 1);
    assert.equal(field !== null, c.fitted, 'whether there is enough tissue to fit');
    if (field && c.sd !== null) {
      assert.ok(Math.abs(field.sd - c.sd) <= 1e-4 * c.sd, `sd ${field.sd} vs ${c.sd}`);
    }
    const spec = { method: 'wm_log_poly1' as const, label: 1, min_field_sd: c.gate };
    assert.equal(fieldApplies(field, spec), c.applies, 'the gate');
    if (!c.applies) return;
    const out = divideField(image, shape, field!);
    const expected = g.npy(c.corrected!).data as Float32Array;
    let worst = 0;
    for (let i = 0; i < out.length; i++) {
      if (!(image[i] > 0)) {
        assert.equal(out[i], 0, `voxel ${i} outside the image's positive voxels`);
        continue;
      }
      worst = Math.max(worst, Math.abs(out[i] - expected[i]) / Math.abs(expected[i]));
    }
    assert.ok(worst <= 1e-5, `largest relative difference ${worst}`);
    // Not a copy: the field moved the image.
    assert.ok(out.some((v, i) => Math.abs(v - image[i]) > 1e-3 * image[i]));
  });
}

test('the fitted field does not depend on the intensity units, nor slope along a coordinate the mask does not span', () => {
  const c = g.cases.find((k) => k.name === 'one_slice_mask')!;
  const img = g.npy(c.image);
  const shape = niftiShape(img.shape);
  const labels = g.npy(c.labels).data as Uint8Array;
  const image = img.data as Float32Array;
  const field = fitLogField(image, shape, labels, 1)!;
  const scaled = fitLogField(
    image.map((x) => x * 1000),
    shape,
    labels,
    1,
  )!;
  assert.ok(Math.abs(field.slopes[2]) < 1e-9, `slope along z ${field.slopes[2]}: the mask lies in one slice`);
  for (let a = 0; a < 2; a++) assert.ok(Math.abs(field.slopes[a] - scaled.slopes[a]) < 1e-9);
  assert.ok(Math.abs(field.sd - scaled.sd) < 1e-9);
});
