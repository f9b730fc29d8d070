// A faulty inference node (ours, but buggy or behind a deploy) cannot make the Worker charge for an
// input it was not sent, nor make it hold or store an answer no input implies: the one-shot and the
// job paths both hold a node's meta frame to the shape the input's header declares, and its result
// bytes to what that shape encodes to. A scripted node on loopback answers each run with the frames
// a test sets; with it the only node, a refused answer is 503 `no_inference_node` and no charge. The
// same node's well-formed answer is charged, so the refusals are the checks', not the fake's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { zipSync } from 'fflate';
import {
  encodeFrame,
  FRAMES_CONTENT_TYPE,
  maxResultBytes,
  type Frame,
  type NodeHealth,
  type RunEnd,
  type RunMeta,
} from '../../engine/edge.js';
import { expectProblem, openApiDoc, uploadClient, uploadWhole, type OpenApiDoc } from './api-checks.js';
import { startApi, type ApiWorld } from './api-world.js';
import { jobClient } from './job-client.js';
import { SHARED_DATA } from '../support/goldens.js';
import { fsbSlab, priceOf, PRICES, SLICE } from './job-fixtures.js';

const SLICE_SHAPE = [181, 217, 1];
const SLAB_SHAPE = [8, 256, 256];
const CT = new Uint8Array(readFileSync(`${SHARED_DATA}fixtures/dicom/CT_small.dcm`));
const CT_SHAPE = [128, 128, 1];
const END: RunEnd = {
  bytes: 0,
  stats: [],
  runtime: { provider: 'cpu' },
  timings_ms: { total: 1, model: 1, queued: 0 },
};

/** What the scripted node answers to the next runs. */
let script: (shape: number[], contentType: string) => Frame[];
/** The `deadline_ms` of the last run the node was asked for. */
let lastDeadline: string | null = null;
let server: Server;
let w: ApiWorld;
let doc: OpenApiDoc;
let key: string;

/** A run's frames: meta (with `meta` over the honest one), `bytes` of result in 64 KiB pieces, end. */
function answer(shape: number[], contentType: string, bytes: number, meta: Partial<RunMeta> = {}): Frame[] {
  const frames: Frame[] = [
    {
      type: 'meta',
      body: { content_type: contentType, shape, voxels: shape[0] * shape[1] * shape[2], ...meta },
    },
  ];
  for (let at = 0; at < bytes; at += 65536) {
    frames.push({ type: 'data', body: new Uint8Array(Math.min(65536, bytes - at)).fill(7) });
  }
  frames.push({ type: 'end', body: { ...END, bytes } });
  return frames;
}

before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/healthz') {
      const health: NodeHealth = {
        status: 'ok',
        running: 0,
        queued: 0,
        concurrency: 1,
        queue: 4,
        device: 'cpu',
        gpu: { requested: 'cpu', provider: 'cpu', adapter: null, fallback_reason: null },
        models: ['brain-wm-2d'],
        uptime_s: 1,
      };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(health));
      return;
    }
    const query = new URL(req.url ?? '/', 'http://node').searchParams;
    lastDeadline = query.get('deadline_ms');
    const body: Buffer[] = [];
    req.on('data', (b: Buffer) => body.push(b));
    req.on('end', () => {
      // The honest shape of what was sent: the slice (PNG), the CT slice zipped, or the slab (NIfTI).
      const sent = Buffer.concat(body);
      const shape =
        sent.subarray(1, 4).toString() === 'PNG'
          ? SLICE_SHAPE
          : sent.subarray(0, 2).toString() === 'PK'
            ? CT_SHAPE
            : SLAB_SHAPE;
      res.writeHead(200, { 'content-type': FRAMES_CONTENT_TYPE });
      const type = query.get('format') === 'png' ? 'image/png' : 'application/gzip';
      for (const frame of script(shape, type)) res.write(encodeFrame(frame));
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  w = await startApi('faulty-node', {
    ledgerHarness: true,
    vars: {
      INFERENCE_NODES: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      DEFAULT_PRICES: JSON.stringify(PRICES),
      EDGE_MAX_VOXELS: '0',
    },
  });
  doc = await openApiDoc(w);
  key = await w.key('acme');
});

after(async () => {
  await w?.dispose();
  await new Promise((resolve) => server?.close(resolve));
});

const post = () =>
  w.fetch('/v1/segment?model=brain-wm-2d', {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/octet-stream',
      accept: 'image/png',
    },
    body: SLICE as unknown as BodyInit,
  });

async function charges(): Promise<{ job_id: string; amount_micros: number }[]> {
  const res = await w.fetch('/v1/usage', { headers: { authorization: `Bearer ${key}` } });
  return ((await res.json()) as { charges: { job_id: string; amount_micros: number }[] }).charges;
}

test('one-shot: an honest answer is charged for the slice; an inflated, foreign or oversized one is not', async () => {
  script = (shape, type) => answer(shape, type, 1000);
  const ok = await post();
  assert.equal(ok.status, 200, await ok.clone().text());
  assert.equal((await ok.arrayBuffer()).byteLength, 1000);
  assert.deepEqual(
    (await charges()).map((c) => c.amount_micros),
    [priceOf(181 * 217)],
  );

  const faults: [string, typeof script][] = [
    ['ten times the voxels', (s, t) => answer(s, t, 1000, { voxels: 10 * s[0] * s[1] * s[2] })],
    ['another input of the same voxels', (s, t) => answer([s[1], s[0], 1], t, 1000)],
    ['a larger input', (s, t) => answer([2 * s[0], 2 * s[1], 1], t, 1000)],
    ['more bytes than the slice encodes to', (s, t) => answer(s, t, maxResultBytes('png', s) + 1)],
    // Both would go into the answer's headers after the charge (a 500, charged).
    ['a content type of its own', (s) => answer(s, 'image/png\r\nSet-Cookie: x=1', 1000)],
    ['a warning no header can carry', (s, t) => answer(s, t, 1000, { warnings: ['intensities \u2265 0'] })],
  ];
  for (const [what, fault] of faults) {
    script = fault;
    await expectProblem(await post(), 503, 'no_inference_node', doc, 'post /v1/segment');
    assert.equal((await charges()).length, 1, `${what}: not charged`);
  }
});

test('job: an inflated voxel count fails the job uncharged; the honest answer is charged for the slab', async () => {
  const jobs = jobClient(w, key);
  const uploadId = await uploadWhole(uploadClient(w, key), fsbSlab(SLAB_SHAPE[0]));
  const before = (await charges()).length;

  script = (shape, type) =>
    answer(shape, type, 5000, {
      shape: [shape[0], shape[1], 2 * shape[2]],
      voxels: 2 * shape[0] * shape[1] * shape[2],
    });
  const faulty = (await (await jobs.create({ upload_id: uploadId, model: 'brain-wm-2d' })).json()) as {
    id: string;
  };
  const failed = await jobs.waitFinal(faulty.id, 60_000);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.type, 'https://nnsam-edge.dev/problems/no_inference_node');
  assert.equal(failed.charge, null);
  assert.equal((await charges()).length, before);

  script = (shape, type) => answer(shape, type, 5000);
  const honest = (await (await jobs.create({ upload_id: uploadId, model: 'brain-wm-2d' })).json()) as {
    id: string;
  };
  const done = await jobs.waitFinal(honest.id, 60_000);
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  assert.equal(done.voxels, 8 * 256 * 256);
  // The node is told the job's deadline, so that a run the job cannot use stops there.
  const deadline = Number(lastDeadline);
  assert.ok(Number.isInteger(deadline) && deadline > 0 && deadline <= 900_000, String(lastDeadline));
  assert.deepEqual(
    (await charges()).slice(before).map((c) => c.amount_micros),
    [priceOf(8 * 256 * 256)],
  );
});

test("job on a zip: the Worker holds its directory's bytes against the budget, not the work bounds' most", async () => {
  // A zipped series' geometry is unknown to the Worker; its slice files' 39 KB bound its voxels. A
  // budget with room for that, and far from the price of the most voxels the work bounds allow.
  const tenant = 'zip-budget';
  const zipKey = await w.key(tenant);
  const jobs = jobClient(w, zipKey);
  const uploadId = await uploadWhole(uploadClient(w, zipKey), zipSync({ 'series/ct.dcm': CT }));
  await w.ledger({ op: 'setBudget', tenant, micros: priceOf(CT.length) });
  script = (shape, type) => answer(shape, type, 500);
  const created = await jobs.create({ upload_id: uploadId, model: 'brain-wm-2d' });
  assert.equal(created.status, 202, await created.clone().text());
  const done = await jobs.waitFinal(((await created.json()) as { id: string }).id, 60_000);
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  assert.equal(done.voxels, 128 * 128);
  // A zip larger than the Worker's 4 MiB read of its end: the directory is found in the tail of
  // the object (its offsets are the file's), and a 5 MiB slice of padding counts in the bound.
  const padded = zipSync(
    { 'series/ct.dcm': CT, 'series/padding.dcm': new Uint8Array(5 * 2 ** 20) },
    { level: 0 },
  );
  const bigId = await uploadWhole(uploadClient(w, zipKey), padded);
  await w.ledger({ op: 'setBudget', tenant, micros: priceOf(CT.length) + priceOf(CT.length + 5 * 2 ** 20) });
  const big = await jobs.create({ upload_id: bigId, model: 'brain-wm-2d' });
  assert.equal(big.status, 202, await big.clone().text());
  assert.equal((await jobs.waitFinal(((await big.json()) as { id: string }).id, 60_000)).status, 'succeeded');
  // A budget spent to the micro by the two: the same job again is 402.
  await w.ledger({ op: 'setBudget', tenant, micros: 2 * priceOf(128 * 128) });
  const spent = await jobs.create({ upload_id: uploadId, model: 'brain-wm-2d' });
  assert.equal(spent.status, 402, await spent.clone().text());
  // An answer past the directory's bound is that node's failure, uncharged.
  await w.ledger({ op: 'setBudget', tenant, micros: null });
  script = (shape, type) => answer([200, 200, 1], type, 500);
  const over = await jobs.create({ upload_id: uploadId, model: 'brain-wm-2d' });
  assert.equal(over.status, 202, await over.clone().text());
  const failed = await jobs.waitFinal(((await over.json()) as { id: string }).id, 60_000);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.charge, null);
});

test("one-shot zip: held at its directory's bytes, charged for the answer's shape", async () => {
  const tenant = 'zip-one-shot';
  const zipKey = await w.key(tenant);
  await w.ledger({ op: 'setBudget', tenant, micros: priceOf(CT.length) });
  script = (shape, type) => answer(shape, type, 500);
  const res = await w.fetch('/v1/segment?model=brain-wm-2d', {
    method: 'POST',
    headers: { authorization: `Bearer ${zipKey}`, 'content-type': 'application/octet-stream' },
    body: zipSync({ 'series/ct.dcm': CT }) as unknown as BodyInit,
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('x-voxels'), String(128 * 128));
  assert.equal(res.headers.get('x-charge-micros'), String(priceOf(128 * 128)));
});
