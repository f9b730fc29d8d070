import assert from 'node:assert/strict';
import { resampleVolume } from '../wasm/src/resample.js';
import { resamplePlanesLinearGpu, type Shape2 } from './resample.js';
import { assertClose, kernelTests, slabFixture, STACK, wasmSlabLogits } from './test-fixture.js';

const kernelTest = await kernelTests();

// Tolerance: the same f64 tap tables as WASM; the GPU interpolates both axes in one invocation
// while WASM runs one pass per axis in the order it finds cheapest, and may fuse multiply-add, so
// results differ by f32 rounding only: a few ulps of the data's magnitude.
const TOLERANCE = 1e-5;

/** The WASM path of slab-output.ts: one resampleVolume (order 1) per plane. */
function wasmPlanes(
  core: Parameters<typeof resampleVolume>[0],
  data: Float32Array,
  planes: number,
  from: Shape2,
  to: Shape2,
): Float32Array {
  const n = from[0] * from[1];
  const out = new Float32Array(planes * to[0] * to[1]);
  for (let p = 0; p < planes; p++) {
    const plane = data.subarray(p * n, (p + 1) * n);
    out.set(
      resampleVolume(core, plane, [from[0], from[1], 1], [to[0], to[1], 1], { order: 1 }),
      p * to[0] * to[1],
    );
  }
  return out;
}

const TARGETS: Shape2[] = [
  [203, 181], // up on both axes
  [97, 121], // down on both
  [160, 100], // one axis only
  [33, 250], // down on one, up on the other
];

kernelTest('linear in-plane resampling of real slab logits matches the WASM kernel', async (k) => {
  const fx = await slabFixture();
  const from: Shape2 = [fx.cols, fx.rows];
  const logits = wasmSlabLogits(fx);
  const src = k.buffer(logits);
  for (const to of TARGETS) {
    const got = await k.read(
      resamplePlanesLinearGpu(k, src, STACK, from, to),
      Float32Array,
      STACK * to[0] * to[1],
    );
    assertClose(
      `resample logits ${from.join('x')} -> ${to.join('x')}`,
      got,
      wasmPlanes(fx.core, logits, STACK, from, to),
      TOLERANCE,
    );
  }
  const same = await k.read(resamplePlanesLinearGpu(k, src, STACK, from, from), Float32Array, logits.length);
  assert.deepEqual(same, logits);
});

kernelTest(
  'linear resampling of raw image planes (clipped to each plane range) matches the WASM kernel',
  async (k) => {
    const fx = await slabFixture();
    const from: Shape2 = [fx.cols, fx.rows];
    const src = k.buffer(fx.planes);
    for (const to of TARGETS.slice(0, 2)) {
      const got = await k.read(resamplePlanesLinearGpu(k, src, 5, from, to), Float32Array, 5 * to[0] * to[1]);
      assertClose(
        `resample image planes ${from.join('x')} -> ${to.join('x')}`,
        got,
        wasmPlanes(fx.core, fx.planes, 5, from, to),
        TOLERANCE,
      );
    }
  },
);

kernelTest('resamplePlanesLinearGpu refuses bad shapes', (k) => {
  assert.throws(() => resamplePlanesLinearGpu(k, k.temp(64), 1, [4, 4], [0, 3]), /two positive integers/);
  assert.throws(() => resamplePlanesLinearGpu(k, k.temp(16), 2, [4, 4], [3, 3]), /must hold/);
});
