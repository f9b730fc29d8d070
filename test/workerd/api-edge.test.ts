// POST /v1/segment inside the Worker (workerd): a small input of an edge-capable model runs on the
// runtime its manifest names (brain-wm-2d: the own U-Net runtime on the fp16 weights, docs/unet-wasm.md)
// with the model file from the MODELS bucket (X-Placement: edge) and matches the engine run directly
// on onnxruntime-node with the same edge file; an input over the budget, a
// missing model file and a corrupted one (SHA-256 mismatch) go to the inference node instead. An
// older release (`model=<id>@<version>`) runs from its own MODELS key.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { decode } from 'fast-png';
import { cliRegistry } from '../../engine/cli/models-root.js';
import { readImage, writeNifti } from '../../engine/io/index.js';
import { checkManifest, type ModelManifest } from '../../engine/models/manifest.js';
import { releaseFileKey } from '../../engine/models/reference.js';
import { segment } from '../../engine/pipeline/segment.js';
import { createOrtNodeCpu } from '../../engine/runtime/ort-node.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { REPO_ROOT } from '../support/goldens.js';
import { startApi, type ApiWorld } from './api-world.js';
import { closedOrigin, startNode, type InferenceNode } from './inference-nodes.js';
import { currentEdgeFile } from './edge-file.js';
import { directLabels, fsbSlab, PRICES, priceOf, SLICE } from './job-fixtures.js';

const MODEL = 'brain-wm-2d';
/** The current release (read, not assumed: a new one replaces the top folder). */
const { key: KEY, bytes: EDGE_FILE, version: CURRENT } = currentEdgeFile(MODEL);
const VOXELS = readImage(SLICE).shape.reduce((a, b) => a * b, 1);
const VARS = { DEFAULT_PRICES: JSON.stringify(PRICES) };

let node: InferenceNode;
/** The API beside a live inference node; its Worker logs are kept. */
let withNode: ApiWorld;
/** The API whose only inference node is a closed port. */
let noNode: ApiWorld;
const logs: string[] = [];
const noNodeLogs: string[] = [];
let manifest: ModelManifest;
/** The engine on onnxruntime-node with the file the edge runs. */
let directEdge: Uint8Array;
/** The engine on onnxruntime-node with the fp32 file the nodes run. */
let directFp32: Uint8Array;

before(async () => {
  node = await startNode();
  withNode = await startApi('edge', {
    vars: { ...VARS, INFERENCE_NODES: node.url },
    onStdio: (text) => logs.push(text),
  });
  noNode = await startApi('edge', {
    vars: { ...VARS, INFERENCE_NODES: await closedOrigin() },
    onStdio: (text) => noNodeLogs.push(text),
  });
  const registry = cliRegistry(undefined);
  try {
    manifest = (await registry.load(MODEL)).manifest;
  } finally {
    await registry.dispose();
  }
  const rt = await createOrtNodeCpu(EDGE_FILE, { threads: 1 });
  try {
    directEdge = (await segment(await sharedKernels(), readImage(SLICE), manifest, [rt], { tta: true }))
      .labels;
  } finally {
    await rt.dispose();
  }
  directFp32 = (await directLabels(SLICE, true)).labels;
});

after(async () => {
  await withNode?.dispose();
  await noNode?.dispose();
  await node?.kill();
});

async function post(
  w: ApiWorld,
  body: Uint8Array,
  headers: Record<string, string> = {},
  model = MODEL,
): Promise<{ res: Response; ms: number }> {
  const token = await w.key('acme');
  const t0 = performance.now();
  const res = await w.fetch(`/v1/segment?model=${model}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', ...headers },
    body: body as unknown as BodyInit,
  });
  await res.clone().arrayBuffer();
  return { res, ms: performance.now() - t0 };
}

async function charges(w: ApiWorld): Promise<{ idempotency_key: string | null; amount_micros: number }[]> {
  const res = await w.fetch('/v1/usage', { headers: { authorization: `Bearer ${await w.key('acme')}` } });
  return ((await res.json()) as { charges: { idempotency_key: string | null; amount_micros: number }[] })
    .charges;
}

async function pngLabels(res: Response): Promise<Uint8Array> {
  return Uint8Array.from(decode(new Uint8Array(await res.arrayBuffer())).data);
}

function differing(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

/** Worker log lines (JSON) with `msg`, written since `from` (of `lines`, default the withNode world's). */
function logLines(msg: string, from: number, lines = logs): Record<string, unknown>[] {
  return lines
    .slice(from)
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === msg);
}

/** Waits for workerd's stdout to deliver `count` log lines (they arrive after the response). */
async function awaitLog(
  msg: string,
  from: number,
  lines = logs,
  count = 1,
): Promise<Record<string, unknown>[]> {
  for (let i = 0; i < 50 && logLines(msg, from, lines).length < count; i++)
    await new Promise((r) => setTimeout(r, 20));
  return logLines(msg, from, lines);
}

test('the manifest edge mark is parsed and checked', () => {
  assert.deepEqual(manifest.edge, { file: 'model.fp16.onnx', max_voxels: 262144, runtime: 'unet-wasm' });
  assert.equal(manifest.files['model.fp16.onnx'].fold, 0);
  const raw = JSON.parse(readFileSync(`${REPO_ROOT}models/${MODEL}/manifest.json`, 'utf8')) as ModelManifest;
  const bad = (edge: unknown) => () => checkManifest({ ...raw, edge }, 'test');
  assert.throws(bad({ file: 'missing.onnx', max_voxels: 1 }), /needs a files entry with its sha256/);
  assert.throws(bad({ file: 'plans.json', max_voxels: 1 }), /must name an ONNX file/);
  assert.throws(bad({ file: 'model.fp16.onnx', max_voxels: 0 }), /max_voxels must be a positive integer/);
  assert.throws(bad(null), /edge must be an object/);
  assert.throws(
    bad({ ...raw.edge, runtime: 'tensorflow' }),
    /edge.runtime must be onnxruntime-web or unet-wasm/,
  );
  // The own runtime reads exported weights: not the web graph's rewritten ones.
  assert.throws(
    bad({ ...raw.edge, file: 'model.web.onnx' }),
    /must be a fold file for the unet-wasm runtime/,
  );
  // onnxruntime-web at the edge runs the web graph where there is one, as the wasm device does.
  assert.throws(
    bad({ ...raw.edge, runtime: 'onnxruntime-web' }),
    /has a web graph: onnxruntime-web at the edge/,
  );
  assert.doesNotThrow(bad({ file: 'model.web.onnx', max_voxels: 1 }));
  assert.throws(
    () => checkManifest({ ...raw, sam_branch: { encoder: 'tiny_vit' } }, 'test'),
    /runs plain U-Nets/,
  );
  // A real nnSAM release has sam_branch null; training/release.py marks the family prefers_gpu.
  assert.throws(() => checkManifest({ ...raw, prefers_gpu: true }, 'test'), /runs plain U-Nets/);
  assert.throws(bad({ ...raw.edge, file: 'model.int8.onnx' }), /reads float weights, not int8/);
});

test('a 2D slice runs in the Worker with no inference node reachable, as onnxruntime-node does, charged once', async (t) => {
  await (await noNode.mf.getR2Bucket('MODELS', 'api')).put(KEY, EDGE_FILE);
  const cold = await post(noNode, SLICE, { accept: 'image/png', 'idempotency-key': 'edge-1' });
  assert.equal(cold.res.status, 200, await cold.res.clone().text());
  assert.equal(cold.res.headers.get('x-placement'), 'edge');
  assert.equal(cold.res.headers.get('content-type'), 'image/png');
  assert.equal(cold.res.headers.get('x-voxels'), String(VOXELS));
  assert.equal(cold.res.headers.get('x-charge-micros'), String(priceOf(VOXELS)));
  const edge = await pngLabels(cold.res);
  const vsEdgeFile = differing(edge, directEdge);
  const vsFp32 = differing(edge, directFp32);
  t.diagnostic(
    `edge vs onnxruntime-node: ${vsEdgeFile}/${VOXELS} pixels differ (the edge file), ` +
      `${vsFp32}/${VOXELS} (fp32 file, what the nodes run)`,
  );
  assert.ok(
    vsEdgeFile <= VOXELS * 0.001,
    `${vsEdgeFile} of ${VOXELS} pixels differ from the edge file's run`,
  );

  // Warm: the isolate keeps the session. The same Idempotency-Key is answered again, not charged again.
  const warm = await post(noNode, SLICE, { accept: 'image/png', 'idempotency-key': 'edge-1' });
  assert.equal(warm.res.status, 200);
  assert.equal(warm.res.headers.get('x-placement'), 'edge');
  assert.deepEqual(await pngLabels(warm.res), edge);
  t.diagnostic(
    `edge latency: cold ${cold.ms.toFixed(0)} ms (R2 + SHA-256 + session), warm ${warm.ms.toFixed(0)} ms`,
  );
  assert.deepEqual(
    (await charges(noNode)).map((c) => [c.idempotency_key, c.amount_micros]),
    [['edge-1', priceOf(VOXELS)]],
  );

  const json = await post(noNode, SLICE, { accept: 'application/json' });
  assert.equal(json.res.headers.get('x-placement'), 'edge');
  const stats = (await json.res.json()) as { labels: { label: number; voxels: number }[]; runtime: object };
  assert.deepEqual(
    stats.labels.map((l) => [l.label, l.voxels]),
    [[1, edge.reduce((n, v) => n + v, 0)]],
  );
  assert.deepEqual(stats.runtime, { requested: 'wasm', provider: 'wasm', threads: 1 });
  // Three edge requests, one session: the isolate fetched, checked and loaded the model once.
  assert.deepEqual(
    (await awaitLog('edge_model_loaded', 0, noNodeLogs)).map((l) => [l.object, l.bytes, l.runtime]),
    [[KEY, EDGE_FILE.byteLength, 'unet-wasm']],
  );
});

test('at the edge, NaN voxels of a float slice are read as 0 and X-Input-Warnings says so', async () => {
  await (await noNode.mf.getR2Bucket('MODELS', 'api')).put(KEY, EDGE_FILE);
  const image = readImage(SLICE);
  let holes = 0;
  const data = Float32Array.from(image.data, (v) => (v !== 0 ? v : (holes++, NaN)));
  const holed = await post(noNode, writeNifti(image, data, { datatype: 'float32' }), { accept: 'image/png' });
  assert.equal(holed.res.status, 200, await holed.res.clone().text());
  assert.equal(holed.res.headers.get('x-placement'), 'edge');
  assert.deepEqual(JSON.parse(holed.res.headers.get('x-input-warnings') ?? '[]'), [
    `${holes} of ${data.length} voxels were NaN or infinite and were read as 0 (background)`,
  ]);
  const clean = await post(noNode, SLICE, { accept: 'image/png' });
  assert.equal(clean.res.headers.get('x-input-warnings'), null);
  assert.deepEqual(await pngLabels(holed.res), await pngLabels(clean.res));
});

test('model=brain-wm-2d@1.2.0 runs at the edge from its own MODELS key, as its edge file does on onnxruntime-node', async () => {
  const folder = `${REPO_ROOT}models/${MODEL}/releases/1.2.0`;
  const release = checkManifest(JSON.parse(readFileSync(`${folder}/manifest.json`, 'utf8')), folder);
  const file = new Uint8Array(readFileSync(`${folder}/${release.edge!.file}`));
  await (
    await noNode.mf.getR2Bucket('MODELS', 'api')
  ).put(releaseFileKey(MODEL, '1.2.0', release.edge!.file), file);
  const { res } = await post(noNode, SLICE, { accept: 'image/png' }, `${MODEL}@1.2.0`);
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('x-placement'), 'edge');
  assert.deepEqual([res.headers.get('x-model'), res.headers.get('x-model-version')], [MODEL, '1.2.0']);
  const rt = await createOrtNodeCpu(file, { threads: 1 });
  try {
    const direct = (await segment(await sharedKernels(), readImage(SLICE), release, [rt], { tta: true }))
      .labels;
    const differ = differing(await pngLabels(res), direct);
    assert.ok(
      differ <= VOXELS * 0.001,
      `${differ} of ${VOXELS} pixels differ from the 1.2.0 edge file's run`,
    );
  } finally {
    await rt.dispose();
  }
});

test('another release at the edge replaces the isolate runtime: the previous one is disposed first', async () => {
  // One runtime per isolate: two live ones would hold two models' weights in its 128 MB.
  const folder = `${REPO_ROOT}models/${MODEL}/releases/2.0.0`;
  const other = checkManifest(JSON.parse(readFileSync(`${folder}/manifest.json`, 'utf8')), folder);
  const otherKey = releaseFileKey(MODEL, '2.0.0', other.edge!.file);
  const otherFile = new Uint8Array(readFileSync(`${folder}/${other.edge!.file}`));
  await (await noNode.mf.getR2Bucket('MODELS', 'api')).put(otherKey, otherFile);
  const from = noNodeLogs.length;
  for (const [model, version] of [
    [`${MODEL}@2.0.0`, '2.0.0'],
    [MODEL, CURRENT],
  ]) {
    const { res } = await post(noNode, SLICE, { accept: 'image/png' }, model);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get('x-placement'), 'edge');
    assert.equal(res.headers.get('x-model-version'), version);
  }
  assert.deepEqual(
    (await awaitLog('edge_model_loaded', from, noNodeLogs, 2)).map((l) => [l.object, l.bytes]),
    [
      [otherKey, otherFile.byteLength],
      [KEY, EDGE_FILE.byteLength],
    ],
  );
  assert.deepEqual(
    (await awaitLog('edge_model_unloaded', from, noNodeLogs, 2)).map((l) => l.object),
    [KEY, otherKey],
  );
});

test("the input's own errors are answered in the Worker, uncharged", async () => {
  const before = (await charges(noNode)).length;
  const garbage = await post(noNode, new TextEncoder().encode('plain text, not an image'));
  assert.equal(garbage.res.status, 415);
  assert.equal(
    ((await garbage.res.json()) as { type: string }).type,
    'https://nnsam-edge.dev/problems/unknown_format',
  );
  assert.equal((await charges(noNode)).length, before);
});

test('with the model file absent from MODELS the run goes to the node', async (t) => {
  await (await withNode.mf.getR2Bucket('MODELS', 'api')).delete(KEY);
  const from = logs.length;
  const { res, ms } = await post(withNode, SLICE, { accept: 'image/png' });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('x-placement'), 'node');
  const labels = await pngLabels(res);
  assert.deepEqual(labels, directFp32);
  t.diagnostic(`node latency (after the R2 miss): ${ms.toFixed(0)} ms`);
  const vsEdge = differing(labels, directEdge);
  t.diagnostic(`node (fp32) vs the edge file's run: ${vsEdge}/${VOXELS} pixels differ`);
  const [line] = await awaitLog('edge_fallback', from);
  assert.ok(
    String(line?.reason).includes(`EdgeModelUnavailable: MODELS has no object ${KEY}`),
    String(line?.reason),
  );
  assert.equal((await charges(withNode)).length, 1);
});

test('a corrupted model file (SHA-256 mismatch) is refused and the run goes to the node', async () => {
  const corrupt = EDGE_FILE.slice();
  corrupt[corrupt.length >> 1] ^= 0xff;
  await (await withNode.mf.getR2Bucket('MODELS', 'api')).put(KEY, corrupt);
  const from = logs.length;
  const { res } = await post(withNode, SLICE, { accept: 'image/png' });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('x-placement'), 'node');
  assert.deepEqual(await pngLabels(res), directFp32);
  const [line] = await awaitLog('edge_fallback', from);
  assert.match(
    String(line?.reason),
    new RegExp(`has sha256 [0-9a-f]{64}, the manifest says ${manifest.files[manifest.edge!.file].sha256}`),
  );
  assert.equal((await charges(withNode)).length, 2);
});

test('once the right file is in MODELS the same isolate runs at the edge; a volume over the budget goes to the node', async () => {
  // The failed loads above were not cached: this one finds the good file.
  await (await withNode.mf.getR2Bucket('MODELS', 'api')).put(KEY, EDGE_FILE);
  const small = await post(withNode, SLICE, { accept: 'image/png' });
  assert.equal(small.res.status, 200, await small.res.clone().text());
  assert.equal(small.res.headers.get('x-placement'), 'edge');

  const volume = fsbSlab(5); // 5 x 256 x 256 = 327680 voxels > 262144
  const big = await post(withNode, volume);
  assert.equal(big.res.status, 200, await big.res.clone().text());
  assert.equal(big.res.headers.get('x-placement'), 'node');
  assert.equal(big.res.headers.get('x-voxels'), String(5 * 256 * 256));
  assert.equal(big.res.headers.get('content-type'), 'application/gzip');
  assert.equal((await charges(withNode)).length, 4);
});
