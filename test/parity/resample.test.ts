// Parity: resampling against nnU-Net v2's resample_data_or_seg / resize_segmentation re-implemented
// over skimage 0.19.3 resize and scipy 1.10.1 map_coordinates (test/parity/goldens_resample.py).
// Tolerances (relative to the input's value range): data order 3 max abs error <= 1e-3 * range,
// orders 0 and 1 <= 1e-5 * range. Label maps identical, every voxel. New shapes and the separate-z
// decision identical.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  chooseSeparateZ,
  computeNewShape,
  resampleLabels,
  resampleVolume,
  type InterpOrder,
} from '../../wasm/src/resample.js';
import type { Shape3, Spacing3 } from '../../wasm/src/shape.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { dataRange, firstMismatch, maxAbsDiff } from '../support/compare.js';
import { goldens } from '../support/goldens.js';

interface ResampleCase {
  kind: 'resample';
  name: string;
  input: string;
  output: string;
  isSeg: boolean;
  order: InterpOrder;
  orderZ: InterpOrder;
  separateZAxis: 0 | 1 | 2 | null;
  spacing: Spacing3;
  newSpacing: Spacing3 | null;
  force: 'auto' | 'on' | 'off';
  shape: Shape3;
  newShape: Shape3;
}

interface ShapeCase {
  kind: 'shape';
  shape: Shape3;
  spacing: Spacing3;
  newSpacing: Spacing3;
  newShape: Shape3;
  auto: 0 | 1 | 2 | null;
  on: 0 | 1 | 2 | null;
  off: 0 | 1 | 2 | null;
}

const g = goldens<ResampleCase | ShapeCase>('resample');

for (const c of g.cases) {
  if (c.kind === 'shape') {
    test(`resample parity: new shape and separate z for [${c.shape.join(', ')}] at [${c.spacing.join(', ')}] -> [${c.newSpacing.join(', ')}]`, () => {
      assert.deepEqual(computeNewShape(c.shape, c.spacing, c.newSpacing), c.newShape);
      for (const mode of ['auto', 'on', 'off'] as const) {
        assert.equal(chooseSeparateZ(c.spacing, c.newSpacing, mode), c[mode], `mode ${mode}`);
      }
    });
    continue;
  }
  test(`resample parity: ${c.name}`, async () => {
    const core = await sharedKernels();
    if (c.newSpacing) {
      assert.deepEqual(computeNewShape(c.shape, c.spacing, c.newSpacing), c.newShape);
      assert.equal(chooseSeparateZ(c.spacing, c.newSpacing, c.force), c.separateZAxis);
    }
    const input = g.npy(c.input).data;
    const expected = g.npy(c.output).data;
    const options = { order: c.order, orderZ: c.orderZ, separateZAxis: c.separateZAxis };
    if (c.isSeg) {
      const labels = input as Uint8Array | Int16Array;
      const out = resampleLabels(core, labels, c.shape, c.newShape, options);
      assert.equal(out.constructor, labels.constructor);
      assert.equal(firstMismatch(out, expected), -1, 'label map differs from nnU-Net');
      // Same answer through every supported label type.
      const wide = resampleLabels(core, Int32Array.from(labels), c.shape, c.newShape, options);
      assert.equal(firstMismatch(wide, expected), -1, 'Int32Array labels differ');
      const u16 = resampleLabels(core, Uint16Array.from(labels), c.shape, c.newShape, options);
      assert.equal(firstMismatch(u16, expected), -1, 'Uint16Array labels differ');
    } else {
      const out = resampleVolume(core, input as Float32Array, c.shape, c.newShape, options);
      const range = dataRange(input);
      const tol = (c.order === 3 || c.orderZ === 3 ? 1e-3 : 1e-5) * range;
      const err = maxAbsDiff(out, expected);
      assert.ok(err <= tol, `max abs error ${err} > ${tol} (range ${range})`);
    }
  });
}
