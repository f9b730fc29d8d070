import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NotFoundError } from '../errors.js';
import { nodeRuntimeFactory } from '../runtime/node-factory.js';
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
