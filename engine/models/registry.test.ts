import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { InputError, NotFoundError } from '../errors.js';
import { nodeRuntimeFactory } from '../runtime/node-factory.js';
import { readNpy } from '../../test/support/npy.js';
import type { InferenceRuntime } from '../runtime/runtime.js';
import { parseManifest, type ModelManifest } from './manifest.js';
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

test('fp16 on wasm runs the web graph of the release: its own session, within 1e-4 of the fp16 file', async () => {
  const id = 'brain-wm-2d';
  const loaded: number[] = [];
  const registry = new ModelRegistry(MODELS, (model, device, options) => {
    loaded.push(model.byteLength);
    return nodeRuntimeFactory(model, device, options);
  });
  const manifest = parseManifest(readFileSync(join(MODELS, id, 'manifest.json'), 'utf8'), id);
  const web = manifest.files['model.web.onnx'];
  assert.equal(web.web_graph_of, 'model.fp16.onnx');
  const input = readNpy(join(MODELS, id, 'parity', 'input.npy'));
  try {
    const [cpu] = await registry.runtimes(id, 'cpu', {}, 'fp16');
    const [wasm] = await registry.runtimes(id, 'wasm', {}, 'fp16');
    const [plain] = await registry.runtimes(id, 'wasm');
    assert.deepEqual(loaded, [manifest.files['model.fp16.onnx'].bytes, web.bytes, manifest.files['model.onnx'].bytes]);
    assert.equal(wasm.info.provider, 'wasm');
    assert.equal(plain.info.provider, 'wasm');
    const a = (await cpu.run(input.data as Float32Array, input.shape)).logits.data;
    const b = (await wasm.run(input.data as Float32Array, input.shape)).logits.data;
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    assert.ok(maxDiff > 0 && maxDiff <= 1e-4, `web graph vs fp16 file: max |logits diff| ${maxDiff}`);
  } finally {
    await registry.dispose();
  }
});

const WM = 'brain-wm-2d';
const manifestAt = (folder: string): ModelManifest =>
  parseManifest(readFileSync(join(MODELS, folder, 'manifest.json'), 'utf8'), folder);
/** The current release of brain-wm-2d, read (a new release replaces the top folder). */
const CURRENT = manifestAt(WM).version!;
const RELEASE_1_2_0 = join(WM, 'releases', '1.2.0');

/** Max |a - b| of the logits a runtime gives for a release's parity input against its PyTorch golden. */
async function parityDiff(runtime: InferenceRuntime, folder: string): Promise<number> {
  const input = readNpy(join(MODELS, folder, 'parity', 'input.npy'));
  const golden = readNpy(join(MODELS, folder, 'parity', 'logits.npy')).data as Float32Array;
  const out = (await runtime.run(input.data as Float32Array, input.shape)).logits.data;
  let max = 0;
  for (let i = 0; i < golden.length; i++) max = Math.max(max, Math.abs(out[i] - golden[i]));
  return max;
}

test('brain-wm-2d: the id is its current release, @1.2.0 the 1.2.0 release, unknown versions list what is installed', async () => {
  const registry = new ModelRegistry(MODELS, nodeRuntimeFactory);
  try {
    const current = await registry.resolve(WM);
    assert.deepEqual(current, { id: WM, version: CURRENT, current: true, folder: WM });
    assert.deepEqual(await registry.resolve(`${WM}@${CURRENT}`), current);
    const old = await registry.load(`${WM}@1.2.0`);
    assert.equal(old.version, '1.2.0');
    assert.deepEqual(old.manifest, manifestAt(RELEASE_1_2_0));
    // The top folder while 1.2.0 is current, its releases/ folder once a newer one is.
    assert.equal(old.dir, join(MODELS, CURRENT === '1.2.0' ? WM : RELEASE_1_2_0));
    const versions = await registry.versions(WM);
    assert.equal(versions[0].version, CURRENT);
    assert.ok(versions.some((v) => v.version === '1.2.0'));
    const s = await registry.summary(`${WM}@1.2.0`);
    assert.equal(s.ok, true, 'the 1.2.0 files match their SHA-256s');
    await assert.rejects(registry.load(`${WM}@9.9.9`), (err: unknown) => {
      assert.ok(err instanceof NotFoundError && err.code === 'model_not_found');
      assert.match(err.message, new RegExp(`no version 9\\.9\\.9 of model '${WM}' \\(installed: ${CURRENT} \\(current\\)`));
      assert.match(err.message, /1\.2\.0/);
      return true;
    });
    await assert.rejects(registry.load(`${WM}@1.2`), (err: unknown) => {
      assert.ok(err instanceof InputError && err.code === 'bad_model_reference');
      return true;
    });
  } finally {
    await registry.dispose();
  }
});

/**
 * The layout once a new release ships: a models root whose brain-wm-2d top folder is a release
 * "2.0.0" (the shipped files, linked, under a relabelled manifest), with the real 1.2.0 release in
 * releases/1.2.0/, a folder whose manifest names another version, and a stray folder.
 */
function rootWithNewRelease(): string {
  const root = mkdtempSync(join(tmpdir(), 'nnsam-releases-'));
  const top = join(root, WM);
  mkdirSync(join(top, 'releases'), { recursive: true });
  const source = join(MODELS, RELEASE_1_2_0);
  for (const name of readdirSync(source)) {
    if (name !== 'manifest.json') symlinkSync(join(source, name), join(top, name));
  }
  writeFileSync(join(top, 'manifest.json'), JSON.stringify({ ...manifestAt(RELEASE_1_2_0), version: '2.0.0' }));
  symlinkSync(source, join(top, 'releases', '1.2.0'));
  mkdirSync(join(top, 'releases', '1.1.0'));
  writeFileSync(join(top, 'releases', '1.1.0', 'manifest.json'), readFileSync(join(source, 'manifest.json')));
  mkdirSync(join(top, 'releases', 'notes'));
  return root;
}

test('with a newer current release, @1.2.0 runs the releases/1.2.0 files in its own session, to their parity goldens', async () => {
  const root = rootWithNewRelease();
  const registry = new ModelRegistry(root, nodeRuntimeFactory);
  try {
    assert.deepEqual(
      (await registry.versions(WM)).map((v) => [v.version, v.current, v.folder]),
      [
        ['2.0.0', true, WM],
        ['1.2.0', false, RELEASE_1_2_0],
        ['1.1.0', false, join(WM, 'releases', '1.1.0')],
      ],
    );
    assert.equal((await registry.load(WM)).version, '2.0.0');
    assert.equal((await registry.load(`${WM}@2.0.0`)).dir, join(root, WM));
    const old = await registry.load(`${WM}@1.2.0`);
    assert.equal(old.dir, join(root, RELEASE_1_2_0));
    assert.equal(old.current, false);
    const [latest] = await registry.runtimes(WM, 'cpu');
    const [pinned] = await registry.runtimes(`${WM}@2.0.0`, 'cpu');
    const [release] = await registry.runtimes(`${WM}@1.2.0`, 'cpu');
    assert.equal(latest, pinned, 'one session per release, whichever reference names it');
    assert.notEqual(release, latest, 'another release, another session');
    assert.ok((await parityDiff(release, RELEASE_1_2_0)) <= 1e-4);
    // A folder is trusted only when its manifest names the release its path does.
    await assert.rejects(registry.load(`${WM}@1.1.0`), /releases\/1\.1\.0\/manifest\.json is brain-wm-2d@1\.2\.0/);
    await assert.rejects(registry.load(`${WM}@3.0.0`), /installed: 2\.0\.0 \(current\), 1\.2\.0, 1\.1\.0/);
  } finally {
    await registry.dispose();
  }
});
