// Parity: crop to non-zero against scipy.ndimage.binary_fill_holes + nnU-Net's bounding box.
// Tolerance: masks and boxes identical.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundingBox, cropToNonzero, nonzeroMask } from '../../wasm/src/crop.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { firstMismatch } from '../support/compare.js';
import { goldens } from '../support/goldens.js';
import { niftiShape } from '../support/npy.js';

interface CropCase {
  name: string;
  inputs: string[];
  mask: string;
  bbox: number[] | null;
}

const g = goldens<CropCase>('crop');

for (const c of g.cases) {
  test(`crop parity: ${c.name}`, async () => {
    const core = await sharedKernels();
    const inputs = c.inputs.map((f) => g.npy(f));
    const shape = niftiShape(inputs[0].shape);
    const channels = inputs.map((a) => a.data as Float32Array);
    const mask = nonzeroMask(core, channels, shape);
    const expected = g.npy(c.mask).data;
    assert.equal(firstMismatch(mask, expected), -1, 'hole-filled mask differs from scipy');
    const box = boundingBox(core, mask, shape);
    if (c.bbox === null) {
      assert.equal(box, null);
    } else {
      assert.deepEqual(
        [box!.start[0], box!.end[0], box!.start[1], box!.end[1], box!.start[2], box!.end[2]],
        c.bbox,
      );
      const cropped = cropToNonzero(core, channels, shape);
      assert.deepEqual(cropped.shape, [c.bbox[1] - c.bbox[0], c.bbox[3] - c.bbox[2], c.bbox[5] - c.bbox[4]]);
      // The cropped mask is the golden mask's box region.
      const total = cropped.mask.reduce((a, b) => a + b, 0);
      assert.equal(
        total,
        Array.from(expected).reduce((a, b) => a + b, 0),
      );
    }
  });
}
