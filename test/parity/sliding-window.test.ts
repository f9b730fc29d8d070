// Parity: sliding-window aggregation against nnU-Net v2's compute_gaussian (scipy gaussian_filter),
// compute_steps_for_sliding_window and an f64 numpy accumulation of overlapping patches.
// Tolerances: Gaussian map max abs error <= 1e-7 (f32 rounding of values <= 1); window offsets
// identical; aggregated logits max abs error <= 1e-5 x max |expected|.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import type { Shape3 } from '../../wasm/src/shape.js';
import {
  computeSlidingWindowSteps,
  gaussianImportanceMap,
  PatchAccumulator,
} from '../../wasm/src/sliding-window.js';
import { maxAbsDiff } from '../support/compare.js';
import { goldens } from '../support/goldens.js';

interface SlidingWindowGoldens {
  gaussian: { patch: Shape3; map: string }[];
  steps: { image: Shape3; patch: Shape3; step: number; steps: number[][] }[];
  accumulate: {
    name: string;
    channels: number;
    volume: Shape3;
    patch: Shape3;
    offsets: [number, number, number][];
    patches: string;
    expected: string;
  }[];
}

const g = goldens<SlidingWindowGoldens>('sliding_window');
const cases = g.cases as unknown as SlidingWindowGoldens;

for (const c of cases.gaussian) {
  test(`gaussian importance map parity: patch [${c.patch.join(', ')}]`, async () => {
    const core = await sharedKernels();
    const err = maxAbsDiff(gaussianImportanceMap(core, c.patch), g.npy(c.map).data);
    assert.ok(err <= 1e-7, `max error ${err}`);
  });
}

test('sliding-window steps parity', () => {
  for (const c of cases.steps) {
    assert.deepEqual(
      computeSlidingWindowSteps(c.image, c.patch, c.step),
      c.steps,
      `image ${c.image} patch ${c.patch}`,
    );
  }
});

for (const c of cases.accumulate) {
  test(`patch accumulation parity: ${c.name}`, async () => {
    const core = await sharedKernels();
    const patches = g.npy(c.patches).data as Float32Array;
    const per = patches.length / c.offsets.length;
    const acc = new PatchAccumulator(core, c.channels, c.volume, c.patch);
    c.offsets.forEach((o, k) => acc.add(patches.subarray(k * per, (k + 1) * per), o));
    const expected = g.npy(c.expected).data;
    const scale = Math.max(...Array.from(expected, Math.abs));
    const err = maxAbsDiff(acc.finish(), expected);
    assert.ok(err <= 1e-5 * scale, `max error ${err} (max |expected| ${scale})`);
  });
}
