import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { applyKeepLargest, keepLargestPlan } from './keep-largest.js';

test('keepLargestPlan reads the manifest field and refuses what it does not know', () => {
  assert.deepEqual(keepLargestPlan(null), { foreground: false, labels: [] });
  assert.deepEqual(keepLargestPlan({ keep_largest_foreground: true }), { foreground: true, labels: [] });
  assert.deepEqual(keepLargestPlan({ keep_largest_labels: [2] }), { foreground: false, labels: [2] });
  assert.throws(() => keepLargestPlan({ keep_largest_labels: ['a'] }), /postprocessing/);
});

test('applyKeepLargest keeps the largest foreground component, then the largest per label', async () => {
  const core = await sharedKernels();
  // One row: foreground components {0..3} (4 voxels), {5} (1), {7, 8} (2); label 2 at {3} and {7, 8}.
  const labels = Uint8Array.from([1, 1, 1, 2, 0, 1, 0, 2, 2, 0]);
  const fg = labels.slice();
  applyKeepLargest(core, fg, [10, 1, 1], { foreground: true, labels: [] });
  assert.deepEqual([...fg], [1, 1, 1, 2, 0, 0, 0, 0, 0, 0]);
  const per = labels.slice();
  applyKeepLargest(core, per, [10, 1, 1], { foreground: false, labels: [2] });
  assert.deepEqual([...per], [1, 1, 1, 0, 0, 1, 0, 2, 2, 0]);
});
