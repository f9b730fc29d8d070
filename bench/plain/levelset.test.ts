// The plain baseline agrees with the WASM kernel on a golden case (phi within 1e-4 x max |phi|).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maxAbsDiff } from '../../test/support/compare.js';
import { goldens } from '../../test/support/goldens.js';
import { niftiShape } from '../../test/support/npy.js';
import * as wasm from '../../wasm/src/levelset.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { curvatureFlow } from './levelset.js';

test('plain curvature flow agrees with the wasm kernel', async () => {
  const core = await sharedKernels();
  const p = goldens<unknown>('levelset').npy('wm_iso_phi.npy');
  const shape = niftiShape(p.shape);
  const phi = p.data as Float32Array;
  const want = wasm.curvatureFlow(core, phi, shape, [1, 1, 1], { iterations: 12 });
  const err = maxAbsDiff(curvatureFlow(phi, shape, [1, 1, 1], { iterations: 12 }), want);
  assert.ok(err <= 1e-4 * Math.max(...Array.from(phi, Math.abs)), `max error ${err}`);
});
