// Parity: distance transform and signed distance against scipy.ndimage.distance_transform_edt(sampling).
// Tolerance: 1e-4 mm absolute (f32 output); infinities (no feature voxel, our documented choice) must match.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { distanceTransform, signedDistance } from '../../wasm/src/edt.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { maxAbsDiff } from '../support/compare.js';
import { goldens } from '../support/goldens.js';
import { niftiShape } from '../support/npy.js';

interface EdtCase {
  name: string;
  mask: string;
  spacing: [number, number, number];
  edt: string;
  sdf: string;
}

const TOLERANCE_MM = 1e-4;
const g = goldens<EdtCase>('edt');

for (const c of g.cases) {
  test(`edt parity: ${c.name}`, async () => {
    const core = await sharedKernels();
    const m = g.npy(c.mask);
    const shape = niftiShape(m.shape);
    const mask = m.data as Uint8Array;
    const dErr = maxAbsDiff(distanceTransform(core, mask, shape, c.spacing), g.npy(c.edt).data);
    assert.ok(dErr <= TOLERANCE_MM, `edt max error ${dErr} mm`);
    const sErr = maxAbsDiff(signedDistance(core, mask, shape, c.spacing), g.npy(c.sdf).data);
    assert.ok(sErr <= TOLERANCE_MM, `sdf max error ${sErr} mm`);
  });
}
