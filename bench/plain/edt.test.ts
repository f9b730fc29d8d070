// The plain baseline agrees with the WASM kernel on a golden case (tolerance 1e-4 mm).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goldens } from '../../test/support/goldens.js';
import { niftiShape } from '../../test/support/npy.js';
import * as wasm from '../../wasm/src/edt.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { distanceTransform, signedDistance } from './edt.js';

test('plain edt agrees with the wasm kernel', async () => {
  const core = await sharedKernels();
  const m = goldens<unknown>('edt').npy('aniso_fixture_mask.npy');
  const shape = niftiShape(m.shape);
  const mask = m.data as Uint8Array;
  const spacing = [2, 2, 3] as const;
  const pairs = [
    [distanceTransform(mask, shape, spacing), wasm.distanceTransform(core, mask, shape, spacing)],
    [signedDistance(mask, shape, spacing), wasm.signedDistance(core, mask, shape, spacing)],
  ];
  for (const [plain, kernel] of pairs) {
    for (let i = 0; i < plain.length; i++) assert.ok(Math.abs(plain[i] - kernel[i]) <= 1e-4, `voxel ${i}`);
  }
});
