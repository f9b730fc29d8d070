// Parity: connected components against scipy.ndimage.label(mask, structure=np.ones((3,3,3))) and
// keep-largest against nnU-Net's remove_all_but_largest_component (acvl_utils).
// Tolerance: none — labels (numbering included), sizes and kept masks identical.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keepLargestComponent, labelComponents } from '../../wasm/src/components.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { firstMismatch } from '../support/compare.js';
import { goldens } from '../support/goldens.js';
import { niftiShape } from '../support/npy.js';

interface ComponentsCase {
  name: string;
  mask: string;
  labels: string;
  count: number;
  sizes: number[];
  keep: string;
}

const g = goldens<ComponentsCase>('components');

for (const c of g.cases) {
  test(`components parity: ${c.name}`, async () => {
    const core = await sharedKernels();
    const m = g.npy(c.mask);
    const shape = niftiShape(m.shape);
    const mask = m.data as Uint8Array;
    const cc = labelComponents(core, mask, shape);
    assert.equal(cc.count, c.count);
    assert.deepEqual(cc.sizes, c.sizes);
    assert.equal(firstMismatch(cc.labels, g.npy(c.labels).data), -1, 'labels differ from scipy');
    const keep = keepLargestComponent(core, mask, shape);
    assert.equal(firstMismatch(keep, g.npy(c.keep).data), -1, 'kept mask differs from nnU-Net');
  });
}
