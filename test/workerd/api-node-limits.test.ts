// A node's 413 is over that node's own limits (here `--max-evaluations 1`), which other nodes need
// not share: the Worker tries the next node, for a one-shot and for a job, and charges the one run
// that delivered. Only when no node takes the input is the 413 the answer, uncharged. Real
// `nnsam serve` processes on loopback, the Worker in workerd.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decode } from 'fast-png';
import { readImage } from '../../engine/io/index.js';
import { expectProblem, openApiDoc, uploadClient, uploadWhole, type OpenApiDoc } from './api-checks.js';
import { startApi, type ApiWorld } from './api-world.js';
import { startNode, type InferenceNode } from './inference-nodes.js';
import { directLabels, fsbSlab, labelsOfNiftiGz, priceOf, PRICES, SLICE } from './job-fixtures.js';
import { jobClient, type Job } from './job-client.js';

const SLAB = fsbSlab(16);
const SLAB_VOXELS = readImage(SLAB).shape.reduce((a, b) => a * b, 1);
const SLICE_VOXELS = readImage(SLICE).shape.reduce((a, b) => a * b, 1);
let small: InferenceNode;
let large: InferenceNode;
let busy: InferenceNode;
let both: ApiWorld;
let onlySmall: ApiWorld;
let withBusy: ApiWorld;
let doc: OpenApiDoc;

before(async () => {
  [small, large, busy] = await Promise.all([
    startNode(['--max-evaluations', '1']),
    startNode(),
    // One run at a time and no queue: a second run finds it saturated (503, Retry-After 2).
    startNode(['--concurrency', '1', '--queue', '0']),
  ]);
  const vars = (nodes: InferenceNode[]) => ({
    // Listed first and equally idle, the small node is tried first (engine/protocol/node-health.ts).
    INFERENCE_NODES: nodes.map((n) => n.url).join(','),
    DEFAULT_PRICES: JSON.stringify(PRICES),
    EDGE_MAX_VOXELS: '0',
  });
  [both, onlySmall, withBusy] = await Promise.all([
    startApi('node-limits', { vars: vars([small, large]) }),
    startApi('node-limits-small', { vars: vars([small]) }),
    startApi('node-limits-busy', { vars: vars([small, busy]) }),
  ]);
  doc = await openApiDoc(both);
});

after(async () => {
  await Promise.all([both?.dispose(), onlySmall?.dispose(), withBusy?.dispose()]);
  await Promise.all([small?.kill(), large?.kill(), busy?.kill()]);
});

/** How many runs `node` refused as over its work bounds, from its metrics. */
async function refusals(node: InferenceNode): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const m = /^nnsam_node_rejected_total\{reason="work_too_large"\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

async function charges(w: ApiWorld, auth: Record<string, string>): Promise<number[]> {
  const res = await w.fetch('/v1/usage', { headers: auth });
  return ((await res.json()) as { charges: { amount_micros: number }[] }).charges.map((c) => c.amount_micros);
}

const post = (w: ApiWorld, auth: Record<string, string>) =>
  w.fetch('/v1/segment?model=brain-wm-2d', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/octet-stream', accept: 'image/png' },
    body: SLICE as unknown as BodyInit,
  });

test("a one-shot over the first node's limits runs on the next node, charged once", async () => {
  const auth = { authorization: `Bearer ${await both.key('one-shot')}` };
  const before = await refusals(small);
  const res = await post(both, auth);
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('x-placement'), 'node');
  const png = decode(new Uint8Array(await res.arrayBuffer()));
  assert.deepEqual(Array.from(png.data), Array.from((await directLabels(SLICE, true)).labels));
  assert.equal(await refusals(small), before + 1, 'the small node was asked first and refused');
  assert.deepEqual(await charges(both, auth), [priceOf(SLICE_VOXELS)]);
});

test("a job over the first node's limits runs on the next node, charged once", async () => {
  const key = await both.key('job');
  const jobs = jobClient(both, key);
  const before = await refusals(small);
  const uploadId = await uploadWhole(uploadClient(both, key), SLAB);
  const created = await jobs.create({ upload_id: uploadId, model: 'brain-wm-2d', options: { tta: false } });
  assert.equal(created.status, 202, await created.clone().text());
  const final = await jobs.waitFinal(((await created.json()) as Job).id);
  assert.equal(final.status, 'succeeded', JSON.stringify(final.error));
  assert.equal(await refusals(small), before + 1, 'the small node was asked first and refused');
  const bytes = new Uint8Array(await (await jobs.result(final.id)).arrayBuffer());
  assert.ok(labelsOfNiftiGz(bytes).labels.equals((await directLabels(SLAB, false)).labels));
  assert.deepEqual(await charges(both, jobs.auth), [priceOf(SLAB_VOXELS)]);
});

test('over the limits of every node, a one-shot and a job get the 413, uncharged', async () => {
  const key = await onlySmall.key('refused');
  const auth = { authorization: `Bearer ${key}` };
  await expectProblem(await post(onlySmall, auth), 413, 'work_too_large', doc, 'post /v1/segment');
  const jobs = jobClient(onlySmall, key);
  const uploadId = await uploadWhole(uploadClient(onlySmall, key), SLAB);
  const created = await jobs.create({ upload_id: uploadId, model: 'brain-wm-2d', options: { tta: false } });
  assert.equal(created.status, 202, await created.clone().text());
  const final = await jobs.waitFinal(((await created.json()) as Job).id);
  assert.equal(final.status, 'failed');
  assert.equal(final.error?.status, 413);
  assert.equal(final.error?.type, 'https://nnsam-edge.dev/problems/work_too_large');
  assert.equal(final.charge, null);
  assert.deepEqual(await charges(onlySmall, auth), []);
});

test('a job waiting for a saturated node does not send its input again to the node that refused it', async () => {
  const key = await withBusy.key('waiting');
  const jobs = jobClient(withBusy, key);
  const uploads = uploadClient(withBusy, key);
  const start = async (slab: Uint8Array, tta: boolean) => {
    const res = await jobs.create({
      upload_id: await uploadWhole(uploads, slab),
      model: 'brain-wm-2d',
      options: { tta },
    });
    assert.equal(res.status, 202, await res.clone().text());
    return ((await res.json()) as Job).id;
  };
  const before = await refusals(small);
  // The first job takes the busy node's one slot for tens of seconds (the small node refuses it).
  const long = await start(fsbSlab(128), true);
  await jobs.waitFor(long, (j) => j.progress.stage === 'predict');
  // The second finds the small node over its limits and the busy node full, and waits (Retry-After
  // 2 s) until the first is done: several passes, each of which skips the small node.
  const waiting = await start(SLAB, false);
  await jobs.waitFor(waiting, (j) => j.status === 'queued' && j.progress.stage === 'waiting');
  const finals = [await jobs.waitFinal(long, 300_000), await jobs.waitFinal(waiting, 300_000)];
  for (const f of finals) assert.equal(f.status, 'succeeded', JSON.stringify(f.error));
  assert.equal(await refusals(small), before + 2, 'one refusal per job, none on a later pass');
});
