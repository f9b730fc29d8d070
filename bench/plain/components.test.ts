// The plain baseline agrees exactly with the WASM kernel on a golden case.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goldens } from '../../test/support/goldens.js';
import { niftiShape } from '../../test/support/npy.js';
import * as wasm from '../../wasm/src/components.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { keepLargestComponent, labelComponents } from './components.js';

test('plain components agree with the wasm kernel', async () => {
  const core = await sharedKernels();
  const m = goldens<unknown>('components').npy('wm_crop_mask.npy');
  const shape = niftiShape(m.shape);
  const mask = m.data as Uint8Array;
  assert.deepEqual(labelComponents(mask, shape), wasm.labelComponents(core, mask, shape));
  assert.deepEqual(keepLargestComponent(mask, shape), wasm.keepLargestComponent(core, mask, shape));
});
