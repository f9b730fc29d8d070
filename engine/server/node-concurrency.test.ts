// A node that runs two at once (run-pool.ts): two runs on real brain volumes execute at the same
// time on two worker threads, each result is byte for byte what a sequential segment() gives, and
// with both run slots taken and no queue a third request gets 503 node_saturated with Retry-After.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'fflate';
import { fsbBox, tempDir } from '../../test/engine/engine-helpers.js';
import { SHARED_DATA } from '../../test/support/goldens.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { cliRegistry, DEFAULT_MODELS_DIR } from '../cli/models-root.js';
import { readImage, writeNifti, type ImageVolume } from '../io/index.js';
import { segment } from '../pipeline/segment.js';
import { decodeFrames, type Frame } from '../protocol/frames.js';
import type { NodeHealth } from '../protocol/node-health.js';
import { startNode, type RunningNode } from './serve.js';

const MODEL = 'brain-wm-2d';
const SLICE = new Uint8Array(readFileSync(`${SHARED_DATA}fixtures/mr-aniso/BrainT1Slice.png`));

const registry = cliRegistry(undefined);
const logs: Record<string, unknown>[] = [];
let pair: RunningNode; // 2 runs at once, no queue

before(async () => {
  pair = await startNode({
    port: 0,
    modelsDir: DEFAULT_MODELS_DIR,
    concurrency: 2,
    queue: 0,
    retryAfterSeconds: 5,
    log: (l) => logs.push(l),
  });
});

after(async () => {
  await pair.close();
  await registry.dispose();
});

/** `columns` sagittal columns of fsB from x = `x0` (the 2D model slices along x: one model slice each). */
async function brainColumns(x0: number, columns: number): Promise<Uint8Array> {
  const box = await fsbBox(tempDir(), `fsB-x${x0}.nii.gz`, [x0, 40, 90], [x0 + columns, 216, 150]);
  return new Uint8Array(readFileSync(box.path));
}

async function health(): Promise<NodeHealth> {
  return (await (await fetch(`${pair.url}/healthz`)).json()) as NodeHealth;
}

/** A POST whose body the test writes, chunked (no Content-Length), so the run waits for it. */
function upload(query: string) {
  const req: ClientRequest = request(`${pair.url}/v1/run?${query}`, { method: 'POST' });
  req.on('error', () => {});
  const response = new Promise<IncomingMessage>((resolve) => req.on('response', resolve));
  req.flushHeaders();
  return { req, response };
}

async function lastFrame(stream: ReadableStream<Uint8Array>): Promise<Frame> {
  let last: Frame | undefined;
  for await (const f of decodeFrames(stream)) last = f;
  return last!;
}

/** One run's frames, each with its place in the arrival order of all runs read together. */
interface Arrived {
  frames: { frame: Frame; at: number }[];
  data: Uint8Array;
}

async function direct(image: ImageVolume): Promise<Uint8Array> {
  const model = await registry.load(MODEL);
  const folds = await registry.runtimes(MODEL, 'cpu', { threads: 1 });
  const r = await segment(await sharedKernels(), image, model.manifest, folds, { tta: false });
  assert.ok(
    r.labels.some((v) => v > 0),
    'the reference finds white matter',
  );
  return writeNifti(image, r.labels, { datatype: 'uint8' });
}

test('with both run slots taken and no queue, a third run gets 503 node_saturated with Retry-After', async () => {
  const held = [upload(`model=${MODEL}&format=json`), upload(`model=${MODEL}&format=json`)];
  for (const h of held) h.req.write(SLICE.subarray(0, 1000));
  const responses = await Promise.all(held.map((h) => h.response));
  assert.deepEqual(
    responses.map((r) => r.statusCode),
    [200, 200],
  );
  const h = await health();
  assert.deepEqual([h.running, h.queued, h.concurrency, h.queue], [2, 0, 2, 0]);

  const third = await fetch(`${pair.url}/v1/run?model=${MODEL}`, { method: 'POST', body: SLICE });
  assert.equal(third.status, 503);
  assert.equal(third.headers.get('retry-after'), '5');
  assert.equal(third.headers.get('content-type'), 'application/problem+json');
  const problem = (await third.json()) as { type: string; status: number };
  assert.equal(problem.type, 'https://nnsam-edge.dev/problems/node_saturated');
  assert.equal(problem.status, 503);

  for (const h of held) h.req.end(SLICE.subarray(1000));
  const ends = await Promise.all(
    responses.map((r) => lastFrame(Readable.toWeb(r) as ReadableStream<Uint8Array>)),
  );
  assert.deepEqual(
    ends.map((f) => f.type),
    ['end', 'end'],
  );
  assert.deepEqual([(await health()).running, (await health()).queued], [0, 0]);
});

test('two runs execute at once on two worker threads, each equal to a sequential segment()', async () => {
  // Two different 24-slice volumes, so a run that read the other's state would differ from its own reference.
  const inputs = [await brainColumns(100, 24), await brainColumns(132, 24)];
  let arrival = 0;
  const runs = await Promise.all(
    inputs.map(async (body, i): Promise<Arrived> => {
      const res = await fetch(`${pair.url}/v1/run?model=${MODEL}&format=nifti&tta=false`, {
        method: 'POST',
        body: body as Uint8Array<ArrayBuffer>,
        headers: { 'X-Request-Id': `pair-${i}` },
      });
      assert.equal(res.status, 200);
      const run: Arrived = { frames: [], data: new Uint8Array(0) };
      const parts: Uint8Array[] = [];
      for await (const frame of decodeFrames(res.body!)) {
        run.frames.push({ frame, at: arrival++ });
        if (frame.type === 'data') parts.push(frame.body);
      }
      run.data = Buffer.concat(parts);
      return run;
    }),
  );
  for (const r of runs) assert.equal(r.frames.at(-1)!.frame.type, 'end', JSON.stringify(r.frames.at(-1)));

  // Both were in the network at once: each one's first model slice arrived before the other's end.
  // A node that ran them one after the other would send all of the second's after the first's end.
  const firstPredict = (r: Arrived): number =>
    r.frames.find(({ frame }) => frame.type === 'progress' && frame.body.stage === 'predict')!.at;
  const end = (r: Arrived): number => r.frames.at(-1)!.at;
  assert.ok(firstPredict(runs[0]) < end(runs[1]) && firstPredict(runs[1]) < end(runs[0]), 'runs overlap');

  // ... on two threads, not interleaved on one.
  const workers = [0, 1].map((i) => logs.find((l) => l.request_id === `pair-${i}`)?.worker);
  assert.ok(
    workers.every((w) => typeof w === 'number' && w > 0),
    JSON.stringify(workers),
  );
  assert.notEqual(workers[0], workers[1]);

  for (const [i, body] of inputs.entries()) {
    const ref = await direct(readImage(body));
    assert.deepEqual(gunzipSync(runs[i].data), ref, `run ${i}: the labels of a sequential segment()`);
  }
});
