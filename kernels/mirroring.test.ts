import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flipPlanes } from '../engine/inference/mirroring.js';
import { flipPlanesGpu, MirrorSum } from './mirroring.js';
import { assertClose, gpuForTests, requireKernels, slabFixture } from './test-fixture.js';

const gpu = await gpuForTests();

// Tolerance: the GPU adds the same f32 values in the same order as the CPU path, so the sums are
// bit-identical; only the final scale may round differently (f32 factor on the GPU, f64 in JS)
// when 1 / (folds x flips) is not a power of two: one f32 ulp, 1e-7 relative.
const TOLERANCE = 1e-6;

test('flipPlanesGpu flips network inputs exactly as flipPlanes', { skip: gpu.skip }, async () => {
  const k = requireKernels(gpu);
  const { input, tiles, patch, flips } = await slabFixture();
  const src = k.buffer(input);
  for (const flip of flips) {
    const out = flipPlanesGpu(k, src, tiles.length, patch[0], patch[1], flip);
    const got = await k.read(out, Float32Array, input.length);
    assert.deepEqual(got, flipPlanes(input, tiles.length, patch[0], patch[1], flip), `flip [${flip.join(', ')}]`);
    out.destroy();
  }
  src.destroy();
});

test('MirrorSum un-flips, stacks and averages real network outputs like the CPU path', { skip: gpu.skip }, async () => {
  const k = requireKernels(gpu);
  const { tiles, patch, flips, outputs } = await slabFixture();
  const [pr, pc] = patch;
  const tileSize = pr * pc;
  const n = tiles.length;
  const stack = 3; // two logits, then the level set, as SlabPredictor stacks them
  // The CPU path (SlabPredictor.predictBatch): flipPlanes back, add into the stack, scale.
  const sum = new Float32Array(n * stack * tileSize);
  const mirror = new MirrorSum(k, n, stack, pr, pc);
  flips.forEach((flip, f) => {
    [outputs[f].logits, outputs[f].levelset].forEach((out, o) => {
      const ch = o === 0 ? 2 : 1;
      const offset = o === 0 ? 0 : 2;
      const y = flip.length ? flipPlanes(out, n * ch, pr, pc, flip) : out;
      for (let b = 0; b < n; b++)
        for (let j = 0; j < ch * tileSize; j++) sum[(b * stack + offset) * tileSize + j] += y[b * ch * tileSize + j];
      mirror.add(k.temp(out), ch, offset, flip);
    });
  });
  const scale = 1 / flips.length;
  for (let j = 0; j < sum.length; j++) sum[j] *= scale;
  const got = await k.read(mirror.mean(), Float32Array, sum.length);
  assertClose('TTA mean of 4 flips x 4 tiles', got, sum, TOLERANCE);
  // Three flips: a factor that is not a power of two.
  const three = new MirrorSum(k, n, 2, pr, pc);
  for (let f = 0; f < 3; f++) three.add(k.temp(outputs[0].logits), 2, 0, []);
  const mean3 = await k.read(three.mean(), Float32Array, n * 2 * tileSize);
  const ref3 = new Float32Array(n * 2 * tileSize);
  for (let j = 0; j < ref3.length; j++) {
    const v = outputs[0].logits[j];
    ref3[j] = Math.fround(Math.fround(v + v) + v) * (1 / 3);
  }
  assertClose('mean of 3 equal outputs', mean3, ref3, TOLERANCE);
});

test('MirrorSum refuses uneven channel counts and bad axes', { skip: gpu.skip }, () => {
  const k = requireKernels(gpu);
  const m = new MirrorSum(k, 1, 3, 4, 4);
  m.add(k.temp(64 * 4), 2, 0, [1]);
  assert.throws(() => m.mean(), /same number of outputs/);
  assert.throws(() => m.add(k.temp(64), 1, 0, [2]), /mirror axes/);
  assert.throws(() => m.add(k.temp(64), 2, 2, []), /exceed the stack/);
});
