import assert from 'node:assert/strict';
import { argmax } from '../wasm/src/softmax.js';
import { GpuPatchAccumulator } from './sliding-window.js';
import { argmaxGpu } from './softmax.js';
import { planePixels } from '../engine/preprocessing/axes.js';
import {
  assertClose,
  gpuSliceAccumulator,
  gpuTtaMean,
  kernelTests,
  sliceFixture,
  STACK,
  tileOffsets,
  ttaMean,
  wasmSliceLogits,
} from './test-fixture.js';

const kernelTest = await kernelTests();

// Tolerance: per voxel the GPU sums the same f32 products in the same tile order as the WASM
// kernel; a GPU compiler may fuse multiply and add (one rounding instead of two) and the final
// division may differ by an ulp, so results agree to a few f32 ulps of the logits' magnitude.
const TOLERANCE = 1e-5;

kernelTest('GpuPatchAccumulator matches the WASM PatchAccumulator on real TTA-averaged logits', async (k) => {
  const fx = await sliceFixture();
  const per = STACK * planePixels(fx.patch);
  const mean = ttaMean(fx);
  const acc = gpuSliceAccumulator(k, fx);
  // Two batches: three overlapping tiles in one dispatch, then the last.
  const offsets = tileOffsets(fx);
  acc.add(k.temp(mean.subarray(0, 3 * per)), offsets.slice(0, 3));
  acc.add(k.temp(mean.subarray(3 * per)), offsets.slice(3));
  const got = await k.read(await acc.finish(), Float32Array, STACK * planePixels(fx.plane));
  const what = `sliding window, ${fx.tiles.length} tiles of ${fx.patch.rows}x${fx.patch.cols} over ${fx.plane.rows}x${fx.plane.cols}`;
  assertClose(what, got, wasmSliceLogits(fx), TOLERANCE);
});

kernelTest('GpuPatchAccumulator reports voxels no patch covered, and refuses patches outside', async (k) => {
  const acc = new GpuPatchAccumulator(k, 1, [8, 4, 1], [4, 4, 1], new Float32Array(16).fill(1));
  assert.throws(() => acc.add(k.temp(64), [[5, 0, 0]]), /outside the volume/);
  acc.add(k.temp(new Float32Array(16).fill(2)), [[0, 0, 0]]);
  await assert.rejects(acc.finish(), /16 voxels were not covered/);
});

kernelTest('a slice on the GPU (TTA sum, accumulation, argmax) gives the WASM path labels', async (k) => {
  const fx = await sliceFixture();
  const acc = gpuSliceAccumulator(k, fx);
  acc.add(gpuTtaMean(k, fx), tileOffsets(fx));
  const plane = planePixels(fx.plane);
  const labels = await k.read(argmaxGpu(k, await acc.finish(), 2 * plane, 2), Uint8Array, plane);
  const wasm = wasmSliceLogits(fx);
  const expected = argmax(fx.core, wasm.subarray(0, 2 * plane), 2);
  let differ = 0;
  let foreground = 0;
  for (let i = 0; i < plane; i++) {
    foreground += expected[i];
    // Labels may differ only where the two logits are within float error of a tie.
    if (labels[i] !== expected[i]) {
      differ++;
      assert.ok(
        Math.abs(wasm[i] - wasm[plane + i]) < 1e-4,
        `voxel ${i}: ${labels[i]} vs ${expected[i]}, no tie`,
      );
    }
  }
  console.log(
    `slice labels: ${differ} of ${plane} differ (near-ties only); ${foreground} white-matter voxels`,
  );
  assert.ok(foreground > 0.05 * plane, 'the real slice holds white matter');
});
