import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NotFoundError } from '../errors.js';
import { nodeRuntimeFactory } from '../runtime/node-factory.js';
import { readNpy } from '../../test/support/npy.js';
import { IntegrityError, ModelRegistry } from './registry.js';

const MODELS = fileURLToPath(new URL('../../../models', import.meta.url));
const ID = 'nnsam-tinyvit-random';

test('the registry lists installed models, verifies their SHA-256s and reuses one session per device', async () => {
  const registry = new ModelRegistry(MODELS, nodeRuntimeFactory);
  try {
    assert.ok((await registry.ids()).includes(ID));
    const s = await registry.summary(ID);
    assert.equal(s.ok, true);
    assert.ok(s.files.some((f) => f.name === 'model.onnx' && f.sha256Ok && f.bytes > 1e6));
    const [a] = await registry.runtimes(ID, 'cpu');
    const [b] = await registry.runtimes(ID, 'cpu');
    assert.equal(a, b);
    assert.equal(a.info.provider, 'cpu');
    await assert.rejects(registry.load('no-such-model'), NotFoundError);
  } finally {
    await registry.dispose();
  }
});

test('a file that does not match its manifest checksum is reported and refused', async () => {
  const root = mkdtempSync(join(tmpdir(), 'nnsam-registry-'));
  cpSync(join(MODELS, ID), join(root, ID), { recursive: true });
  writeFileSync(join(root, ID, 'README.md'), 'tampered\n');
  const registry = new ModelRegistry(root, nodeRuntimeFactory);
  const s = await registry.summary(ID);
  assert.equal(s.ok, false);
  assert.deepEqual(
    s.files.filter((f) => !f.sha256Ok).map((f) => f.name),
    ['README.md'],
  );
  await assert.rejects(registry.load(ID), IntegrityError);
});

test('a shipped int8 variant runs on cpu and wasm as its own session and keeps the fp32 decisions', async () => {
  const id = 'brain-wm-2d';
  const registry = new ModelRegistry(MODELS, nodeRuntimeFactory);
  const input = readNpy(join(MODELS, id, 'parity', 'input.npy'));
  const golden = readNpy(join(MODELS, id, 'parity', 'logits.npy')); // fp32 PyTorch logits [B, 2, H, W]
  const [b, c] = golden.shape;
  const pixels = (golden.data as Float32Array).length / (b * c);
  try {
    const [fp32] = await registry.runtimes(id, 'cpu');
    for (const device of ['cpu', 'wasm'] as const) {
      const [int8] = await registry.runtimes(id, device, {}, 'int8');
      assert.notEqual(int8, fp32);
      const out = (await int8.run(input.data as Float32Array, input.shape)).logits.data;
      const g = golden.data as Float32Array;
      let agree = 0;
      let maxDiff = 0;
      for (let n = 0; n < b; n++) {
        for (let p = 0; p < pixels; p++) {
          const i0 = n * c * pixels + p;
          const i1 = i0 + pixels;
          if (out[i1] > out[i0] === g[i1] > g[i0]) agree++;
          maxDiff = Math.max(maxDiff, Math.abs(out[i0] - g[i0]), Math.abs(out[i1] - g[i1]));
        }
      }
      // int8 kernels move the logits (not bit-parity) but must barely move the decisions.
      assert.ok(agree / (b * pixels) > 0.99, `${device}: argmax agreement ${agree / (b * pixels)}`);
      assert.ok(maxDiff > 0, `${device}: int8 logits identical to fp32: the variant did not run`);
    }
  } finally {
    await registry.dispose();
  }
});
