/**
 * An ensemble release (docs/model-versions.md, "Ensembles"; made by training/ensemble.py): its folds
 * are its members' unchanged networks, each matching its member's PyTorch goldens, and the fold
 * average the pipeline takes matches the mean of those goldens.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nodeRuntimeFactory } from '../runtime/node-factory.js';
import { readNpy } from '../../test/support/npy.js';
import { ModelRegistry } from './registry.js';

const MODELS = fileURLToPath(new URL('../../../models', import.meta.url));
const ENSEMBLE = 'brain-wm-2d@2.1.0';
const MEMBERS = ['1.2.0', '2.0.0'];

const maxAbsDiff = (a: Float32Array, b: Float32Array): number => {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

test('brain-wm-2d@2.1.0 runs its members as folds, each to its PyTorch goldens, and their mean to the mean golden', async () => {
  const registry = new ModelRegistry(MODELS, nodeRuntimeFactory);
  try {
    const model = await registry.load(ENSEMBLE);
    assert.deepEqual(model.manifest.inference.folds, [0, 1]);
    assert.equal(model.manifest.edge, undefined, 'an ensemble is not offered at the edge');
    // Fold k is member k's weights, byte for byte.
    for (const [k, version] of MEMBERS.entries()) {
      const file = k === 0 ? 'model.onnx' : `model.fold${k}.onnx`;
      assert.equal(sha(join(model.dir, file)), sha(join(MODELS, 'brain-wm-2d', 'releases', version, 'model.onnx')));
    }
    const { parity_tolerance: tolerance } = JSON.parse(readFileSync(join(model.dir, 'manifest.json'), 'utf8')) as {
      parity_tolerance: number;
    };
    const input = readNpy(join(model.dir, 'parity', 'input.npy'));
    const folds = await registry.runtimes(ENSEMBLE, 'cpu', { threads: 1 });
    assert.equal(folds.length, 2);
    const outputs = await Promise.all(folds.map((f) => f.run(input.data as Float32Array, input.shape)));
    for (const name of ['logits', 'levelset'] as const) {
      for (const [k, out] of outputs.entries()) {
        const golden = readNpy(join(model.dir, 'parity', k === 0 ? '' : `fold${k}`, `${name}.npy`));
        const d = maxAbsDiff(out[name].data, golden.data as Float32Array);
        assert.ok(d <= tolerance, `fold ${k} ${name}: max |diff| ${d} > ${tolerance}`);
      }
      const mean = outputs[0][name].data.map((v, i) => (v + outputs[1][name].data[i]) / 2);
      const golden = readNpy(join(model.dir, 'parity', `mean_${name}.npy`));
      const d = maxAbsDiff(mean, golden.data as Float32Array);
      assert.ok(d <= tolerance, `mean ${name}: max |diff| ${d} > ${tolerance}`);
      // The members disagree, so the mean is not either fold's output.
      assert.ok(maxAbsDiff(mean, outputs[0][name].data) > 100 * tolerance);
    }
  } finally {
    await registry.dispose();
  }
});
