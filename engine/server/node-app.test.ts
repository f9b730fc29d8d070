// POST /v1/run over real HTTP on loopback with the real brain-wm-2d model and shared data: each
// format's result is what a direct segment() of the same bytes gives, frames come in the contract's
// order, a 3D input streams slab by slab, and /metrics and the logs account for the requests.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { after, before, test } from 'node:test';
import { decode as decodePng } from 'fast-png';
import { gunzipSync } from 'fflate';
import { SHARED_DATA } from '../../test/support/goldens.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { cliRegistry, DEFAULT_MODELS_DIR } from '../cli/models-root.js';
import { cropGeometry, readImage, writeNifti, type ImageVolume } from '../io/index.js';
import { segment, type SegmentResult } from '../pipeline/segment.js';
import {
  decodeFrames,
  FRAMES_CONTENT_TYPE,
  type Frame,
  type RunEnd,
  type RunMeta,
  type RunProgress,
} from '../protocol/frames.js';
import { autoConcurrency } from './concurrency.js';
import { startNode, type RunningNode } from './serve.js';

const MODEL = 'brain-wm-2d';
const SLICE = new Uint8Array(readFileSync(`${SHARED_DATA}fixtures/mr-aniso/BrainT1Slice.png`));
const BRAIN = `${SHARED_DATA}brain-wm/imagesTr/fsB_0000.nii.gz`;
const ORDER = ['queued', 'reading', 'preprocess', 'predict', 'postprocess', 'encode'];

const registry = cliRegistry(undefined);
const logs: Record<string, unknown>[] = [];
let node: RunningNode;
let sliced: RunningNode;

interface Run {
  frames: Frame[];
  progress: RunProgress[];
  meta?: RunMeta;
  end?: RunEnd;
  data: Uint8Array;
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Run> {
  const run: Run = { frames: [], progress: [], data: new Uint8Array(0) };
  const parts: Uint8Array[] = [];
  for await (const f of decodeFrames(stream)) {
    run.frames.push(f);
    if (f.type === 'progress') run.progress.push(f.body);
    if (f.type === 'meta') run.meta = f.body;
    if (f.type === 'end') run.end = f.body;
    if (f.type === 'error') assert.fail(`error frame ${JSON.stringify(f.body)}`);
    if (f.type === 'data') parts.push(f.body);
  }
  run.data = Buffer.concat(parts);
  return run;
}

async function post(base: string, query: string, body: Uint8Array, id?: string): Promise<Run> {
  const res = await fetch(`${base}/v1/run?model=${MODEL}&${query}`, {
    method: 'POST',
    body: body as Uint8Array<ArrayBuffer>,
    headers: id ? { 'X-Request-Id': id } : {},
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), FRAMES_CONTENT_TYPE);
  if (id) assert.equal(res.headers.get('x-request-id'), id);
  return collect(res.body!);
}

async function direct(image: ImageVolume, tta: boolean): Promise<SegmentResult> {
  const model = await registry.load(MODEL);
  const folds = await registry.runtimes(MODEL, 'cpu', { threads: 1 });
  return segment(await sharedKernels(), image, model.manifest, folds, { tta });
}

/**
 * The frames without the node's heartbeats: a progress frame that repeats the last one (node-run.ts),
 * which may come anywhere before the end.
 */
function withoutHeartbeats(frames: Frame[]): Frame[] {
  let last: string | undefined;
  return frames.filter((f) => {
    if (f.type !== 'progress') return true;
    const body = JSON.stringify(f.body);
    const beat = body === last;
    last = body;
    return !beat;
  });
}

function assertFrameOrder(run: Run): void {
  const frames = withoutHeartbeats(run.frames);
  const kinds = frames.map((f) => f.type).join(',');
  assert.match(kinds, /^(progress,)+meta,(data,)+end$/);
  const progress = frames.flatMap((f) => (f.type === 'progress' ? [f.body] : []));
  const ranks = progress.map((p) => ORDER.indexOf(p.stage));
  assert.ok(!ranks.includes(-1));
  assert.deepEqual(
    ranks,
    [...ranks].sort((a, b) => a - b),
    'progress stages in order',
  );
  const predict = progress.filter((p) => p.stage === 'predict');
  assert.deepEqual(
    predict.map((p) => p.done),
    Array.from({ length: predict[0].total }, (_, i) => i + 1),
    'one predict frame per slice',
  );
  assert.equal(run.end!.bytes, run.data.byteLength);
}

before(async () => {
  node = await startNode({ port: 0, modelsDir: DEFAULT_MODELS_DIR, log: (l) => logs.push(l) });
  sliced = await startNode({ port: 0, modelsDir: DEFAULT_MODELS_DIR, slabPlanes: 16 });
});

after(async () => {
  await Promise.all([node.close(), sliced.close()]);
  await registry.dispose();
});

test('healthz reports the node and its models', async () => {
  const res = await fetch(`${node.url}/healthz`);
  assert.equal(res.status, 200);
  const h = (await res.json()) as Record<string, unknown>;
  assert.equal(h.status, 'ok');
  // Concurrency is `auto` by default: sized to this machine's cores (concurrency.ts).
  const auto = autoConcurrency({ cores: availableParallelism(), threads: 1, device: 'cpu' });
  assert.deepEqual([h.running, h.queued, h.concurrency, h.queue, h.device], [0, 0, auto, 8, 'cpu']);
  assert.ok((h.models as string[]).includes(MODEL));
  // Every installed release, current and older, as placement asks for them (worker/nodes/placement.ts).
  const installed = (await registry.versions(MODEL)).map((v) => `${MODEL}@${v.version}`);
  assert.ok(installed.length >= 3, installed.join(', '));
  assert.deepEqual(
    (h.releases as string[]).filter((r) => r.startsWith(`${MODEL}@`)),
    installed,
  );
  assert.equal(typeof h.uptime_s, 'number');
});

test('format=nifti on a PNG slice: the streamed .nii.gz is writeNifti of a direct segment()', async () => {
  const run = await post(node.url, 'format=nifti', SLICE, 'nifti-run-1');
  assertFrameOrder(run);
  assert.deepEqual(
    [...new Set(run.progress.map((p) => p.stage))],
    ['reading', 'preprocess', 'predict', 'postprocess', 'encode'],
  );
  const image = readImage(SLICE);
  assert.deepEqual(run.meta, {
    content_type: 'application/gzip',
    shape: image.shape,
    voxels: 181 * 217,
    warnings: [],
  });
  const ref = await direct(image, true);
  assert.ok(
    ref.labels.some((v) => v > 0),
    'the model finds something',
  );
  const nii = gunzipSync(run.data);
  assert.deepEqual(nii, writeNifti(image, ref.labels, { datatype: 'uint8' }));
  assert.deepEqual(Uint8Array.from(readImage(run.data).data), ref.labels);
  assert.deepEqual(run.end!.stats, JSON.parse(JSON.stringify(ref.stats)));
  assert.equal(run.end!.runtime.provider, 'cpu');
  const t = run.end!.timings_ms;
  assert.ok(t.total >= t.model && t.model > 0 && t.queued >= 0);
  const line = logs.find((l) => l.request_id === 'nifti-run-1');
  assert.ok(line, 'one log line for the run');
  assert.deepEqual(
    [line.method, line.path, line.status, line.model, line.outcome],
    ['POST', '/v1/run', 200, MODEL, 'ok'],
  );
  assert.equal(typeof line.ms, 'number');
});

test('a node repeats its last progress through the whole run, so that a silent stream means a lost node', async () => {
  const beating = await startNode({ port: 0, modelsDir: DEFAULT_MODELS_DIR, heartbeatMs: 5 });
  try {
    const run = await post(beating.url, 'format=nifti', SLICE);
    assertFrameOrder(run);
    const beats = run.frames.filter(
      (f, i) => f.type === 'progress' && withoutHeartbeats(run.frames.slice(0, i + 1)).at(-1) !== f,
    );
    const stages = new Set(beats.map((f) => (f.body as RunProgress).stage));
    // The run worker reports nothing between its steps; the node fills the gaps while it computes.
    assert.ok(
      ['preprocess', 'predict', 'postprocess', 'encode'].some((s) => stages.has(s as RunProgress['stage'])),
      [...stages].join(),
    );
  } finally {
    await beating.close();
  }
});

test('NaN voxels of a float input are read as 0 and the meta frame says so', async () => {
  const image = readImage(SLICE);
  let holes = 0;
  const data = Float32Array.from(image.data, (v) => (v !== 0 ? v : (holes++, NaN)));
  const run = await post(node.url, 'format=png', writeNifti(image, data, { datatype: 'float32' }));
  assert.deepEqual(run.meta!.warnings, [
    `${holes} of ${data.length} voxels were NaN or infinite and were read as 0 (background)`,
  ]);
  // The same labels as the zero background (the PNG slice itself).
  const clean = await post(node.url, 'format=png', SLICE);
  assert.deepEqual(run.data, clean.data);
});

test('format=png gives the labels as indexed pixels with a visible palette; format=json gives segment() stats', async () => {
  const image = readImage(SLICE);
  const ref = await direct(image, false);
  const png = await post(node.url, 'format=png&tta=false', SLICE);
  assertFrameOrder(png);
  assert.equal(png.meta!.content_type, 'image/png');
  const decoded = decodePng(png.data);
  assert.deepEqual([decoded.width, decoded.height, decoded.channels, decoded.depth], [181, 217, 1, 8]);
  assert.deepEqual(Uint8Array.from(decoded.data), ref.labels);
  assert.deepEqual(decoded.palette?.slice(0, 2), [
    [0, 0, 0],
    [255, 0, 0],
  ]);

  const json = await post(node.url, 'format=json&tta=false', SLICE);
  assertFrameOrder(json);
  assert.equal(json.meta!.content_type, 'application/json');
  const summary = JSON.parse(new TextDecoder().decode(json.data)) as Record<string, unknown>;
  assert.deepEqual(summary.labels, JSON.parse(JSON.stringify(ref.stats)));
  assert.deepEqual(summary.shape, [181, 217, 1]);
  assert.deepEqual(Object.keys(summary.timings_ms as object), ['total', 'model', 'queued']);
});

test('a small 3D NIfTI streams slab by slab: per-slice progress and several data frames', async () => {
  // The 2D model slices along x: 4 columns give 4 model slices; 40 z-planes give 3 compressed slabs of 16.
  const brain = readImage(new Uint8Array(readFileSync(BRAIN)));
  const start: [number, number, number] = [126, 40, 100];
  const end: [number, number, number] = [130, 216, 140];
  const g = cropGeometry(brain, { start, end });
  const [nx, ny, nz] = g.shape;
  const data = new Float32Array(nx * ny * nz);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++) {
      const from = ((start[2] + z) * 256 + start[1] + y) * 256 + start[0];
      data.set(brain.data.subarray(from, from + nx), (z * ny + y) * nx);
    }
  const bytes = writeNifti(brain, data, { shape: g.shape, affine: g.affine, gzip: true });
  const run = await post(sliced.url, 'tta=false', bytes);
  assertFrameOrder(run);
  assert.equal(run.progress.filter((p) => p.stage === 'predict').length, 4);
  assert.ok(run.frames.filter((f) => f.type === 'data').length >= 3, 'a data frame per compressed slab');
  const image = readImage(bytes);
  const ref = await direct(image, false);
  assert.ok(ref.labels.some((v) => v > 0));
  assert.deepEqual(gunzipSync(run.data), writeNifti(image, ref.labels, { datatype: 'uint8' }));
});

test('/metrics exposes the node metrics with their labels', async () => {
  await fetch(`${node.url}/v1/run?model=nope`, { method: 'POST', body: SLICE });
  const res = await fetch(`${node.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  for (const want of [
    /^nnsam_node_requests_total\{route="\/v1\/run",status="200"\} [1-9]/m,
    /^nnsam_node_requests_total\{route="\/v1\/run",status="404"\} 1$/m,
    /^nnsam_node_request_duration_seconds_count\{route="\/v1\/run"\} [1-9]/m,
    /^nnsam_node_stage_seconds_count\{stage="predict"\} [1-9]/m,
    /^nnsam_node_stage_seconds_count\{stage="encode"\} [1-9]/m,
    /^nnsam_node_rejected_total\{reason="model_not_found"\} 1$/m,
    /^nnsam_node_runs_in_flight 0$/m,
    /^nnsam_node_runs_queued 0$/m,
    /^process_cpu_user_seconds_total /m,
  ]) {
    assert.match(text, want);
  }
  // The second app in this process keeps its own counts.
  const other = await (await fetch(`${sliced.url}/metrics`)).text();
  assert.doesNotMatch(other, /status="404"/);
});

test('model=ID@VERSION runs that release and the end frame names it; unknown versions 404, malformed references 400', async () => {
  const image = readImage(SLICE);
  const current = (await registry.load(MODEL)).version;
  const plain = await post(node.url, 'format=json&tta=false', SLICE);
  assert.deepEqual([plain.end!.model, plain.end!.model_version], [MODEL, current]);

  const res = await fetch(`${node.url}/v1/run?model=${MODEL}@1.2.0&format=json&tta=false`, {
    method: 'POST',
    body: SLICE,
  });
  assert.equal(res.status, 200);
  const run = await collect(res.body!);
  assertFrameOrder(run);
  assert.deepEqual([run.end!.model, run.end!.model_version], [MODEL, '1.2.0']);
  const release = await registry.load(`${MODEL}@1.2.0`);
  const folds = await registry.runtimes(`${MODEL}@1.2.0`, 'cpu', { threads: 1 });
  const ref = await segment(await sharedKernels(), image, release.manifest, folds, { tta: false });
  const summary = JSON.parse(new TextDecoder().decode(run.data)) as { labels: unknown };
  assert.deepEqual(summary.labels, JSON.parse(JSON.stringify(ref.stats)));

  const problem = async (model: string, status: number, code: string): Promise<string> => {
    const r = await fetch(`${node.url}/v1/run?model=${encodeURIComponent(model)}`, {
      method: 'POST',
      body: SLICE,
    });
    assert.equal(r.status, status, model);
    const body = (await r.json()) as { type: string; detail: string };
    assert.equal(body.type, `https://nnsam-edge.dev/problems/${code}`);
    return body.detail;
  };
  const detail = await problem(`${MODEL}@9.9.9`, 404, 'model_not_found');
  assert.match(detail, new RegExp(`^no version 9\\.9\\.9 of model '${MODEL}' \\(installed: .*1\\.2\\.0`));
  assert.doesNotMatch(detail, /\//, 'no server path in a client-facing message');
  assert.match(await problem(`${MODEL}@1.2`, 400, 'invalid_request'), /bad model reference/);
});
