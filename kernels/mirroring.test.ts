import assert from 'node:assert/strict';
import { flipPlanes } from '../engine/inference/mirroring.js';
import { flipPlanesGpu, MirrorSum } from './mirroring.js';
import { assertClose, gpuTtaMean, kernelTests, sliceFixture, ttaMean } from './test-fixture.js';

const kernelTest = await kernelTests();

// Tolerance: the GPU adds the same f32 values in the same order as the CPU path, so the sums are
// bit-identical; only the final scale may round differently (f32 factor on the GPU, f64 in JS)
// when 1 / (folds x flips) is not a power of two: one f32 ulp, 1e-7 relative.
const TOLERANCE = 1e-6;

kernelTest('flipPlanesGpu flips network inputs exactly as flipPlanes', async (k) => {
  const { input, tiles, patch, flips } = await sliceFixture();
  const src = k.buffer(input);
  for (const flip of flips) {
    const got = await k.read(flipPlanesGpu(k, src, tiles.length, patch, flip), Float32Array, input.length);
    assert.deepEqual(got, flipPlanes(input, tiles.length, patch, flip), `flip [${flip.join(', ')}]`);
  }
});

kernelTest('MirrorSum un-flips, stacks and averages real network outputs like the CPU path', async (k) => {
  const fx = await sliceFixture();
  const expected = ttaMean(fx);
  const got = await k.read(gpuTtaMean(k, fx), Float32Array, expected.length);
  assertClose(`TTA mean of ${fx.flips.length} flips x ${fx.tiles.length} tiles`, got, expected, TOLERANCE);
  // Three outputs: a factor that is not a power of two.
  const logits = fx.outputs[0].logits;
  const three = new MirrorSum(k, fx.tiles.length, 2, fx.patch);
  for (let f = 0; f < 3; f++) three.add(k.temp(logits), 2, 0, []);
  const mean3 = await k.read(three.mean(), Float32Array, logits.length);
  const ref3 = logits.map((v) => Math.fround(Math.fround(v + v) + v) * (1 / 3));
  assertClose('mean of 3 equal outputs', mean3, ref3, TOLERANCE);
});

kernelTest('MirrorSum refuses uneven channel counts, bad axes and short outputs', (k) => {
  const m = new MirrorSum(k, 1, 3, { rows: 4, cols: 4 });
  m.add(k.temp(2 * 16 * 4), 2, 0, [1]);
  assert.throws(() => m.mean(), /same number of outputs/);
  assert.throws(() => m.add(k.temp(64), 1, 0, [2]), /mirror axes/);
  assert.throws(() => m.add(k.temp(2 * 16 * 4), 2, 2, []), /exceed the stack/);
  assert.throws(() => m.add(k.temp(64), 2, 0, []), /output must hold/);
});
