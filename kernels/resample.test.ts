import assert from 'node:assert/strict';
import { resampleVolume } from '../wasm/src/resample.js';
import { planePixels, planeShape, type Plane } from '../engine/preprocessing/axes.js';
import { resamplePlanesLinearGpu } from './resample.js';
import { assertClose, kernelTests, sliceFixture, STACK, wasmSliceLogits } from './test-fixture.js';

const kernelTest = await kernelTests();

// Tolerance: the same f64 tap tables as WASM; the GPU interpolates both axes in one invocation
// while WASM runs one pass per axis in the order it finds cheapest, and may fuse multiply-add, so
// results differ by f32 rounding only: a few ulps of the data's magnitude.
const TOLERANCE = 1e-5;

/** The WASM path of slice-output.ts: one resampleVolume (order 1) per plane. */
function wasmPlanes(
  core: Parameters<typeof resampleVolume>[0],
  data: Float32Array,
  planes: number,
  from: Plane,
  to: Plane,
): Float32Array {
  const n = planePixels(from);
  const m = planePixels(to);
  const out = new Float32Array(planes * m);
  for (let p = 0; p < planes; p++) {
    const plane = data.subarray(p * n, (p + 1) * n);
    out.set(resampleVolume(core, plane, planeShape(from), planeShape(to), { order: 1 }), p * m);
  }
  return out;
}

const size = (p: Plane): string => `${p.rows}x${p.cols}`;

const TARGETS: Plane[] = [
  { rows: 181, cols: 203 }, // up on both axes
  { rows: 121, cols: 97 }, // down on both
  { rows: 100, cols: 160 }, // one axis only
  { rows: 250, cols: 33 }, // down on one, up on the other
];

kernelTest('linear in-plane resampling of real slice logits matches the WASM kernel', async (k) => {
  const fx = await sliceFixture();
  const from = fx.plane;
  const logits = wasmSliceLogits(fx);
  const src = k.buffer(logits);
  for (const to of TARGETS) {
    const got = await k.read(
      resamplePlanesLinearGpu(k, src, STACK, from, to),
      Float32Array,
      STACK * planePixels(to),
    );
    assertClose(
      `resample logits ${size(from)} -> ${size(to)}`,
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
    const fx = await sliceFixture();
    const from = fx.plane;
    const src = k.buffer(fx.planes);
    for (const to of TARGETS.slice(0, 2)) {
      const got = await k.read(
        resamplePlanesLinearGpu(k, src, 5, from, to),
        Float32Array,
        5 * planePixels(to),
      );
      assertClose(
        `resample image planes ${size(from)} -> ${size(to)}`,
        got,
        wasmPlanes(fx.core, fx.planes, 5, from, to),
        TOLERANCE,
      );
    }
  },
);

kernelTest('resamplePlanesLinearGpu refuses bad shapes', (k) => {
  assert.throws(
    () => resamplePlanesLinearGpu(k, k.temp(64), 1, { rows: 4, cols: 4 }, { rows: 3, cols: 0 }),
    /two positive integers/,
  );
  assert.throws(
    () => resamplePlanesLinearGpu(k, k.temp(16), 2, { rows: 4, cols: 4 }, { rows: 3, cols: 3 }),
    /must hold/,
  );
});
