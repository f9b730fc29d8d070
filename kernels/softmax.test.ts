import assert from 'node:assert/strict';
import { argmax, softmax } from '../wasm/src/softmax.js';
import { argmaxGpu, softmaxGpu } from './softmax.js';
import { assertClose, kernelTests, sliceFixture, wasmSliceLogits } from './test-fixture.js';
import type { GpuKernels } from './gpu-core.js';
import { planePixels } from '../engine/preprocessing/axes.js';

const kernelTest = await kernelTests();

// Tolerance: probabilities are in [0, 1]; WGSL's exp is accurate to a few ulps (3 + 2|x| ulp), the
// WASM exp to about one, and both divide by the f32 sum: a few 1e-7 in all. Argmax compares the
// same f32 values with the same rule, so its labels must be identical, ties included.
const TOLERANCE = 1e-6;

async function both(k: GpuKernels, values: Float32Array, channels: number) {
  const { core } = await sliceFixture();
  const src = k.buffer(values);
  const n = values.length / channels;
  const probs = await k.read(softmaxGpu(k, src, values.length, channels), Float32Array, values.length);
  const labels = await k.read(argmaxGpu(k, src, values.length, channels), Uint8Array, n);
  src.destroy();
  return {
    probs,
    labels,
    wasmProbs: softmax(core, values, channels),
    wasmLabels: argmax(core, values, channels),
  };
}

kernelTest('softmax and argmax of real slice logits match the WASM kernels', async (k) => {
  const fx = await sliceFixture();
  const logits = wasmSliceLogits(fx).subarray(0, 2 * planePixels(fx.plane));
  const r = await both(k, logits, 2);
  assertClose('softmax of 2-class slice logits', r.probs, r.wasmProbs, TOLERANCE);
  assert.deepEqual(r.labels, r.wasmLabels);
});

kernelTest('softmax and argmax over five real image planes as channels (exact ties) match', async (k) => {
  const fx = await sliceFixture();
  const r = await both(k, fx.planes, 5);
  assertClose('softmax of 5 raw image planes', r.probs, r.wasmProbs, TOLERANCE);
  let ties = 0;
  const n = planePixels(fx.plane);
  for (let i = 0; i < n; i++) {
    const v = [0, 1, 2, 3, 4].map((c) => fx.planes[c * n + i]);
    if (v.filter((x) => x === Math.max(...v)).length > 1) ties++;
  }
  console.log(`argmax over 5 planes: ${ties} of ${n} voxels have tied maxima`);
  assert.ok(ties > 100, 'the data exercise ties');
  assert.deepEqual(r.labels, r.wasmLabels);
});

kernelTest('argmax follows numpy on ties and NaN, for any voxel count', async (k) => {
  // Seven voxels (not a multiple of four), three channels.
  const c0 = [1, 2, 5, NaN, 0, 3, -1];
  const c1 = [1, 3, NaN, 4, 0, 7, -1];
  const c2 = [0, 3, 9, NaN, NaN, 7, -2];
  const r = await both(k, new Float32Array([...c0, ...c1, ...c2]), 3);
  assert.deepEqual([...r.labels], [0, 1, 1, 0, 2, 1, 0]);
  assert.deepEqual(r.labels, r.wasmLabels);
});
