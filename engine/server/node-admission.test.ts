// What a node refuses and when: saturation (503 node_saturated with Retry-After) and queueing (200
// with a `queued` heartbeat first), a client that goes away (its slot comes back), bad requests
// before the 200 (problem+json) and bad bodies after it (error frames), and bearer-token auth.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { SHARED_DATA } from '../../test/support/goldens.js';
import { DEFAULT_MODELS_DIR } from '../cli/models-root.js';
import { decodeFrames, FRAMES_CONTENT_TYPE, type Frame } from '../protocol/frames.js';
import { startNode, type RunningNode } from './serve.js';

const MODEL = 'brain-wm-2d';
const SLICE = new Uint8Array(readFileSync(`${SHARED_DATA}fixtures/mr-aniso/BrainT1Slice.png`));
const modelsDir = DEFAULT_MODELS_DIR;
const logs: string[] = [];
let single: RunningNode; // concurrency 1, queue 0
let queued: RunningNode; // concurrency 1, queue 1
let small: RunningNode; // 1000-byte body cap, token
let bounded: RunningNode; // 8 evaluations per run, 1 run, 1 waiting
let paced: RunningNode; // 1 run, 0 waiting, a body must come at 100 kB/s after 300 ms
const TOKEN = 'node-secret-123';

before(async () => {
  const log = (l: Record<string, unknown>): void => void logs.push(JSON.stringify(l));
  [single, queued, small, bounded, paced] = await Promise.all([
    startNode({ port: 0, modelsDir, concurrency: 1, queue: 0, retryAfterSeconds: 3, log }),
    startNode({ port: 0, modelsDir, concurrency: 1, queue: 1, heartbeatMs: 40, log }),
    startNode({ port: 0, modelsDir, limits: { maxInputBytes: 1000 }, token: TOKEN, log }),
    startNode({ port: 0, modelsDir, concurrency: 1, queue: 1, work: { maxEvaluations: 8 }, log }),
    startNode({
      port: 0,
      modelsDir,
      concurrency: 1,
      queue: 0,
      bodyPace: { graceMs: 300, minBytesPerSecond: 100_000 },
      maxRunSeconds: 120,
      log,
    }),
  ]);
});

after(async () => {
  await Promise.all([single.close(), queued.close(), small.close(), bounded.close(), paced.close()]);
});

/** A POST whose body is written by the test, chunked (no Content-Length). */
function upload(base: string, query = `model=${MODEL}&tta=false`, headers: Record<string, string> = {}) {
  const req: ClientRequest = request(`${base}/v1/run?${query}`, { method: 'POST', headers });
  req.on('error', () => {});
  const response = new Promise<IncomingMessage>((resolve) => req.on('response', resolve));
  req.flushHeaders();
  return { req, response };
}

function frames(res: IncomingMessage): AsyncIterator<Frame> {
  return decodeFrames(Readable.toWeb(res) as ReadableStream<Uint8Array>)[Symbol.asyncIterator]();
}

async function rest(it: AsyncIterator<Frame>): Promise<Frame[]> {
  const out: Frame[] = [];
  for (let r = await it.next(); !r.done; r = await it.next()) out.push(r.value);
  return out;
}

async function health(node: RunningNode): Promise<{ running: number; queued: number }> {
  const h = (await (await fetch(`${node.url}/healthz`)).json()) as { running: number; queued: number };
  return { running: h.running, queued: h.queued };
}

async function problemOf(res: Response, status: number, code: string): Promise<void> {
  assert.equal(res.status, status);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  const p = (await res.json()) as { type: string; status: number; detail: string; title: string };
  assert.equal(p.type, `https://nnsam-edge.dev/problems/${code}`);
  assert.equal(p.status, status);
  assert.ok(p.detail && p.title);
}

const post = (base: string, query: string, body: Uint8Array, headers: Record<string, string> = {}) =>
  fetch(`${base}/v1/run?${query}`, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers });

test('concurrency 1, queue 0: a second run while one is in flight gets 503 node_saturated', async () => {
  const first = upload(single.url);
  first.req.write(SLICE.subarray(0, 1000));
  const res = await first.response;
  assert.equal(res.statusCode, 200);
  const it = frames(res);
  assert.deepEqual((await it.next()).value, {
    type: 'progress',
    body: { stage: 'reading', done: 0, total: 0 },
  });
  const second = await post(single.url, `model=${MODEL}`, SLICE);
  assert.equal(second.headers.get('retry-after'), '3');
  await problemOf(second, 503, 'node_saturated');
  first.req.end(SLICE.subarray(1000));
  const tail = await rest(it);
  assert.equal(tail.at(-1)!.type, 'end');
  assert.deepEqual(await health(single), { running: 0, queued: 0 });
});

test('queue 1: a second run gets 200 and waits with queued heartbeats, then runs', async () => {
  const first = upload(queued.url);
  first.req.write(SLICE.subarray(0, 1000));
  const firstFrames = frames(await first.response);
  await firstFrames.next();
  const second = await post(queued.url, `model=${MODEL}&format=json&tta=false`, SLICE);
  assert.equal(second.status, 200);
  assert.equal(second.headers.get('content-type'), FRAMES_CONTENT_TYPE);
  const it = decodeFrames(second.body!)[Symbol.asyncIterator]();
  const head: Frame[] = [(await it.next()).value, (await it.next()).value];
  assert.deepEqual(
    head.map((f) => f.type === 'progress' && f.body.stage),
    ['queued', 'queued'],
    'heartbeat',
  );
  assert.deepEqual(await health(queued), { running: 1, queued: 1 });
  first.req.end(SLICE.subarray(1000));
  assert.equal((await rest(firstFrames)).at(-1)!.type, 'end');
  const tail = await rest(it);
  const end = tail.at(-1)!;
  assert.equal(end.type, 'end');
  assert.ok(end.type === 'end' && end.body.timings_ms.queued > 0);
  const stages = tail.flatMap((f) => (f.type === 'progress' ? [f.body.stage] : []));
  assert.equal(stages.filter((s) => s !== 'queued')[0], 'reading');
});

test('a client that disconnects gives its slot back and the node keeps serving', async () => {
  const gone = upload(single.url);
  gone.req.write(SLICE.subarray(0, 1000));
  await once(await gone.response, 'data');
  assert.equal((await health(single)).running, 1);
  gone.req.destroy();
  for (let i = 0; i < 100 && (await health(single)).running !== 0; i++)
    await new Promise((r) => setTimeout(r, 20));
  assert.equal((await health(single)).running, 0);
  const next = await post(single.url, `model=${MODEL}&format=json&tta=false`, SLICE);
  assert.equal(next.status, 200);
  assert.equal((await rest(decodeFrames(next.body!)[Symbol.asyncIterator]())).at(-1)!.type, 'end');
  assert.ok(logs.some((l) => l.includes('"outcome":"cancelled"')));
});

test('problems before the 200: bad query, unknown model, declared size over the cap', async () => {
  await problemOf(await post(single.url, 'format=nifti', SLICE), 400, 'invalid_request');
  await problemOf(await post(single.url, `model=${MODEL}&format=tiff`, SLICE), 400, 'invalid_request');
  await problemOf(await post(single.url, `model=${MODEL}&tta=yes`, SLICE), 400, 'invalid_request');
  await problemOf(await post(single.url, 'model=no-such-model', SLICE), 404, 'model_not_found');
  const auth = { Authorization: `Bearer ${TOKEN}` };
  await problemOf(await post(small.url, `model=${MODEL}`, SLICE, auth), 413, 'input_too_large');
  await problemOf(await fetch(`${single.url}/nowhere`), 404, 'route_not_found');
});

test('problems after the 200 arrive as one error frame', async () => {
  const garbage = await post(single.url, `model=${MODEL}`, new TextEncoder().encode('not an image at all'));
  assert.equal(garbage.status, 200);
  const g = await rest(decodeFrames(garbage.body!)[Symbol.asyncIterator]());
  assert.deepEqual(g.at(-1), {
    type: 'error',
    body: {
      status: 415,
      code: 'unknown_format',
      detail: 'unrecognised image format (expected NIfTI, PNG, JPEG, DICOM or a zip of a DICOM series)',
    },
  });
  assert.equal(g.filter((f) => f.type === 'error').length, 1);

  const big = upload(small.url, `model=${MODEL}`, { Authorization: `Bearer ${TOKEN}` });
  big.req.write(SLICE.subarray(0, 800));
  big.req.write(SLICE.subarray(800, 1600));
  const over = await rest(frames(await big.response));
  big.req.destroy();
  const last = over.at(-1)!;
  assert.ok(last.type === 'error' && last.body.status === 413 && last.body.code === 'input_too_large');
  assert.ok(!over.some((f) => f.type === 'meta' || f.type === 'data'));
});

test('work over the bound is refused from the header; every run has a deadline, queueing included', async () => {
  // The brain slice (181x217 at 1 mm) is 6 tiles: 24 evaluations with TTA; the bound is 8.
  const over = await post(bounded.url, `model=${MODEL}`, SLICE);
  const refused = (await rest(decodeFrames(over.body!)[Symbol.asyncIterator]())).at(-1)!;
  assert.ok(refused.type === 'error' && refused.body.code === 'work_too_large', JSON.stringify(refused));
  assert.equal(refused.type === 'error' && refused.body.status, 413);
  assert.match(
    refused.type === 'error' ? refused.body.detail : '',
    /24 network patch evaluations \(1 slice of 217x181 .* limit is 8/,
  );

  // One run holds the slot (its body never ends); the next one waits in the queue past its own
  // deadline and ends with run_timeout, while /healthz keeps answering.
  const holder = upload(bounded.url);
  holder.req.write(SLICE.subarray(0, 1000));
  const held = frames(await holder.response);
  await held.next();
  const late = await post(bounded.url, `model=${MODEL}&tta=false&deadline_ms=300`, SLICE);
  assert.equal(late.status, 200);
  assert.deepEqual(await health(bounded), { running: 1, queued: 1 });
  const timedOut = (await rest(decodeFrames(late.body!)[Symbol.asyncIterator]())).at(-1)!;
  assert.deepEqual(timedOut, {
    type: 'error',
    body: { status: 504, code: 'run_timeout', detail: 'The run passed its deadline and was stopped.' },
  });
  assert.deepEqual(await health(bounded), { running: 1, queued: 0 }, 'the timed-out run left the queue');
  holder.req.destroy();
  await problemOf(await post(bounded.url, `model=${MODEL}&deadline_ms=soon`, SLICE), 400, 'invalid_request');
});

test('a bearer token guards every route but /healthz; the token is never logged', async () => {
  assert.equal((await fetch(`${small.url}/healthz`)).status, 200);
  await problemOf(await fetch(`${small.url}/metrics`), 401, 'unauthorized');
  await problemOf(
    await fetch(`${small.url}/metrics`, { headers: { Authorization: 'Bearer wrong' } }),
    401,
    'unauthorized',
  );
  await problemOf(await post(small.url, `model=${MODEL}`, SLICE.subarray(0, 10)), 401, 'unauthorized');
  const ok = await fetch(`${small.url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /nnsam_node_rejected_total\{reason="unauthorized"\} 3/);
  assert.ok(logs.length > 0 && !logs.some((l) => l.includes(TOKEN)));
});

test('a body that drips once its run has a slot ends in 408 body_too_slow and frees the slot', async () => {
  const drip = upload(paced.url);
  drip.req.write(SLICE.subarray(0, 100));
  const res = await drip.response;
  assert.equal(res.statusCode, 200);
  const t0 = performance.now();
  const timer = setInterval(() => drip.req.write(SLICE.subarray(100, 101)), 100);
  try {
    const last = (await rest(frames(res))).at(-1);
    assert.equal(last?.type, 'error');
    assert.deepEqual(
      { ...(last.body as object), detail: undefined },
      {
        status: 408,
        code: 'body_too_slow',
        detail: undefined,
      },
    );
    assert.ok(performance.now() - t0 < 10_000, 'cut within seconds, not at the run deadline');
  } finally {
    clearInterval(timer);
    drip.req.destroy();
  }
  for (let i = 0; (await health(paced)).running > 0 && i < 100; i++)
    await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(await health(paced), { running: 0, queued: 0 });
  // The slot serves the next run, whose body comes at once.
  const next = await post(paced.url, `model=${MODEL}&tta=false&format=json`, SLICE);
  assert.equal(next.status, 200);
  const kinds: string[] = [];
  for await (const f of decodeFrames(next.body!)) kinds.push(f.type);
  assert.equal(kinds.at(-1), 'end');
});

test("Node's request timeout outlasts the run deadline: a queued run's unread body is not cut first", () => {
  assert.equal(paced.server.requestTimeout, (120 + 60) * 1000);
  assert.ok(single.server.requestTimeout > 900 * 1000, 'the default deadline (900 s) too');
});
