// The plain-TypeScript baseline agrees with the WASM kernel (and so with scipy) on a golden case.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundingBox as wasmBox, nonzeroMask as wasmMask } from '../../wasm/src/crop.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { goldens } from '../../test/support/goldens.js';
import { niftiShape } from '../../test/support/npy.js';
import { boundingBox, nonzeroMask } from './crop.js';

test('plain crop matches the WASM kernel on the brain golden', async () => {
  const g = goldens<{ name: string; inputs: string[]; bbox: number[] }>('crop');
  const c = g.cases.find((k) => k.name === 'brain')!;
  const input = g.npy(c.inputs[0]);
  const shape = niftiShape(input.shape);
  const data = input.data as Float32Array;
  const core = await sharedKernels();
  const mask = nonzeroMask([data], shape);
  assert.deepEqual(mask, wasmMask(core, [data], shape));
  const box = wasmBox(core, mask, shape)!;
  assert.deepEqual(boundingBox(mask, shape), [
    box.start[0],
    box.end[0],
    box.start[1],
    box.end[1],
    box.start[2],
    box.end[2],
  ]);
  assert.deepEqual(boundingBox(mask, shape), c.bbox);
});
