// The plain baseline agrees with the WASM kernel on a golden case (softmax 1e-6 abs, argmax identical).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstMismatch, maxAbsDiff } from '../../test/support/compare.js';
import { goldens } from '../../test/support/goldens.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import * as wasm from '../../wasm/src/softmax.js';
import { argmax, softmax } from './softmax.js';

test('plain softmax / argmax agree with the wasm kernels', async () => {
  const core = await sharedKernels();
  const x = goldens<unknown>('softmax').npy('mr_five_logits.npy').data as Float32Array;
  assert.ok(maxAbsDiff(softmax(x, 5), wasm.softmax(core, x, 5)) <= 1e-6);
  assert.equal(firstMismatch(argmax(x, 5), wasm.argmax(core, x, 5)), -1);
});
