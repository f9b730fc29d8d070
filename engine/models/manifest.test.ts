import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.js';
import { modelFiles, parseManifest, webGraphOf, type ModelManifest } from './manifest.js';

const SHIPPED = fileURLToPath(new URL('../../../models/brain-wm-2d/manifest.json', import.meta.url));

/** The shipped manifest with its file list replaced (folds follow the names). */
function withFiles(names: string[]): ModelManifest {
  const m = parseManifest(readFileSync(SHIPPED, 'utf8'), 'brain-wm-2d');
  const fold = (n: string) => Number(/fold(\d)/.exec(n)?.[1] ?? 0);
  m.files = Object.fromEntries(names.map((n) => [n, { sha256: '0'.repeat(64), bytes: 1, fold: fold(n) }]));
  m.inference.folds = [...new Set(names.map(fold))].sort();
  return m;
}

test('modelFiles picks one file per fold: fp32 by default, or the variant asked for', () => {
  const m = withFiles([
    'model_fold1.onnx',
    'model_fold0.onnx',
    'model_fold0.fp16.onnx',
    'model_fold1.fp16.onnx',
    'model_fold0.int8.onnx',
    'model_fold1.int8.onnx',
  ]);
  assert.deepEqual(modelFiles(m), ['model_fold0.onnx', 'model_fold1.onnx']);
  assert.deepEqual(modelFiles(m, 'fp16'), ['model_fold0.fp16.onnx', 'model_fold1.fp16.onnx']);
  assert.deepEqual(modelFiles(m, 'int8'), ['model_fold0.int8.onnx', 'model_fold1.int8.onnx']);
});

test('a release that ships only fp16 weights runs them as its default', () => {
  assert.deepEqual(modelFiles(withFiles(['model.fp16.onnx'])), ['model.fp16.onnx']);
});

test('asking for a variant a fold lacks is a clear error naming what the model ships', () => {
  const m = withFiles(['model_fold0.onnx', 'model_fold1.onnx', 'model_fold0.int8.onnx']);
  assert.throws(
    () => modelFiles(m, 'int8'),
    (e: unknown) => e instanceof InputError && e.code === 'weights_unavailable' && /fold\(s\) 1/.test(e.message),
  );
  assert.throws(
    () => modelFiles(m, 'fp16'),
    (e: unknown) => e instanceof InputError && /it ships: fp32, int8/.test(e.message),
  );
});

test('prefers_gpu: the nnSAM stand-in says true, brain-wm-2d nothing, anything but a boolean is refused', () => {
  const read = (id: string): string =>
    readFileSync(fileURLToPath(new URL(`../../../models/${id}/manifest.json`, import.meta.url)), 'utf8');
  assert.equal(parseManifest(read('nnsam-tinyvit-random'), 'nnsam').prefers_gpu, true);
  assert.equal(parseManifest(read('brain-wm-2d'), 'wm').prefers_gpu, undefined);
  const bad = JSON.stringify({ ...JSON.parse(read('brain-wm-2d')), prefers_gpu: 'yes' });
  assert.throws(
    () => parseManifest(bad, 'wm'),
    (e: unknown) => e instanceof InputError && /prefers_gpu must be true or false/.test(e.message),
  );
});

test('inference.refine: settings in range are kept, anything out of range or on a model without a level-set head is refused', () => {
  const shipped = JSON.parse(readFileSync(SHIPPED, 'utf8')) as ModelManifest;
  const withRefine = (refine: unknown, m: ModelManifest = shipped): string =>
    JSON.stringify({ ...m, inference: { ...m.inference, refine } });
  assert.equal(parseManifest(readFileSync(SHIPPED, 'utf8'), 'wm').inference.refine, undefined);
  assert.deepEqual(parseManifest(withRefine({ levelset_weight: 0.25, iterations: 2 }), 'wm').inference.refine, {
    levelset_weight: 0.25,
    iterations: 2,
  });
  const full = { levelset_weight: 1, iterations: 0, band_voxels: 1.5, dt_fraction: 1 };
  assert.deepEqual(parseManifest(withRefine(full), 'wm').inference.refine, full);
  const refused: [unknown, RegExp][] = [
    [null, /must be an object/],
    [[0.5, 5], /must be an object/],
    [{ iterations: 5 }, /levelset_weight must be in \[0, 1\], got undefined/],
    [{ levelset_weight: 1.5, iterations: 5 }, /levelset_weight must be in \[0, 1\], got 1.5/],
    [{ levelset_weight: '0.5', iterations: 5 }, /levelset_weight must be in \[0, 1\]/],
    [{ levelset_weight: 0.5, iterations: 2.5 }, /iterations must be a non-negative integer, got 2.5/],
    [{ levelset_weight: 0.5, iterations: -1 }, /iterations must be a non-negative integer/],
    [{ levelset_weight: 0.5, iterations: 5, band_voxels: 0 }, /band_voxels must be a positive number, got 0/],
    [{ levelset_weight: 0.5, iterations: 5, dt_fraction: 1.2 }, /dt_fraction must be in \(0, 1\], got 1.2/],
    [{ levelset_weight: 0.5, iterations: 5, dt: 0.1 }, /unknown keys dt/],
  ];
  for (const [refine, message] of refused) {
    assert.throws(
      () => parseManifest(withRefine(refine), 'wm'),
      (e: unknown) => e instanceof InputError && e.code === 'bad_manifest' && message.test(e.message),
      JSON.stringify(refine),
    );
  }
  const noHead = { ...shipped, onnx: { ...shipped.onnx, outputs: shipped.onnx.outputs.filter((o) => o.kind !== 'levelset') } };
  assert.throws(
    () => parseManifest(withRefine({ levelset_weight: 0.5, iterations: 5 }, noHead), 'wm'),
    (e: unknown) => e instanceof InputError && /needs a levelset output/.test(e.message),
  );
});

test('web graphs: the shipped one stands in for model.fp16.onnx only; a graph of nothing, with a fold, or a second one is refused', () => {
  const raw = readFileSync(SHIPPED, 'utf8');
  const m = parseManifest(raw, 'brain-wm-2d');
  // The edge runs the fp16 weights on the own U-Net runtime, which reads exported weights.
  assert.deepEqual(m.edge, { file: 'model.fp16.onnx', max_voxels: 262144, runtime: 'unet-wasm' });
  assert.equal(webGraphOf(m, 'model.fp16.onnx'), 'model.web.onnx');
  assert.equal(webGraphOf(m, 'model.onnx'), 'model.onnx');
  assert.equal(webGraphOf(m, 'model.int8.onnx'), 'model.int8.onnx');
  // Without a fold it is never picked as a fold's file of any variant.
  for (const w of ['fp32', 'fp16', 'int8'] as const) assert.ok(!modelFiles(m, w).includes('model.web.onnx'));
  const bad = (edit: (files: Record<string, Record<string, unknown>>) => void) => () => {
    const j = JSON.parse(raw) as { files: Record<string, Record<string, unknown>> };
    edit(j.files);
    parseManifest(JSON.stringify(j), 'brain-wm-2d');
  };
  assert.throws(bad((f) => (f['model.web.onnx'].web_graph_of = 'model.missing.onnx')), /web_graph_of must name a listed fold file/);
  assert.throws(bad((f) => (f['model.web.onnx'].web_graph_of = 'README.md')), /web_graph_of must name a listed fold file/);
  assert.throws(bad((f) => (f['model.web.onnx'].web_graph_of = 7)), /web_graph_of must name a listed fold file/);
  assert.throws(bad((f) => (f['model.web.onnx'].fold = 0)), /an ONNX file beside the manifest, without a fold/);
  assert.throws(
    bad((f) => (f['sub/model.web.onnx'] = { ...f['model.web.onnx'], web_graph_of: 'model.onnx' })),
    /sub\/model.web.onnx: a web graph is an ONNX file beside the manifest/,
  );
  // A web graph of a web graph: its source is no fold file.
  assert.throws(
    bad((f) => (f['model.web2.onnx'] = { ...f['model.web.onnx'], web_graph_of: 'model.web.onnx' })),
    /web_graph_of must name a listed fold file/,
  );
  // onnxruntime-web at the edge on the source of a web graph would run another graph than
  // `--device wasm` does.
  const edgeOnSource = JSON.parse(raw) as { edge: { file: string; runtime?: string } };
  edgeOnSource.edge.runtime = 'onnxruntime-web';
  assert.throws(
    () => parseManifest(JSON.stringify(edgeOnSource), 'brain-wm-2d'),
    /edge.file model.fp16.onnx has a web graph: onnxruntime-web at the edge must run it/,
  );
  assert.throws(
    bad((f) => (f['model.web2.onnx'] = { ...f['model.web.onnx'] })),
    /model.fp16.onnx has more than one web graph/,
  );
});
