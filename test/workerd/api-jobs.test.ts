// Jobs end to end: the Worker in workerd, a real `nnsam serve` node on loopback, real shared volumes.
// The full flow (chunked upload, job, server-sent progress, Range download) on fsB must give the
// label map the engine gives directly; then idempotent retries, tenant isolation, cancellation,
// failed inputs, budget and concurrency limits, each with what the ledger holds afterwards; a job on
// an older release by its versioned model reference.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NnsamClient } from '../../engine/client/index.js';
import {
  conforms,
  expectProblem,
  openApiDoc,
  uploadClient,
  uploadWhole,
  type OpenApiDoc,
} from './api-checks.js';
import { startApi, type ApiWorld } from './api-world.js';
import { startNode, type InferenceNode } from './inference-nodes.js';
import {
  CURRENT_WM,
  directLabels,
  FSB,
  fsbSlab,
  labelsOfNiftiGz,
  priceOf,
  PRICES,
  SLICE,
} from './job-fixtures.js';
import { jobClient, readEvents, type Job } from './job-client.js';

let w: ApiWorld;
let node: InferenceNode;
let doc: OpenApiDoc;
let acme: ReturnType<typeof uploadClient>;
let jobs: ReturnType<typeof jobClient>;
let slabUpload: string;
const SLAB = fsbSlab(48);

before(async () => {
  node = await startNode(['--queue', '16']);
  w = await startApi('jobs', {
    vars: {
      INFERENCE_NODES: node.url,
      DEFAULT_PRICES: JSON.stringify(PRICES),
      MAX_CONCURRENT_JOBS: '3',
    },
    ledgerHarness: true,
  });
  doc = await openApiDoc(w);
  const key = await w.key('acme');
  acme = uploadClient(w, key);
  jobs = jobClient(w, key);
  slabUpload = await uploadWhole(acme, SLAB);
});

after(async () => {
  await w?.dispose();
  await node?.kill();
});

test('full flow on fsB: chunked upload, job, SSE progress, Range download equal to the engine', async () => {
  const uploadId = await uploadWhole(acme, FSB, 2 ** 20);
  const created = await jobs.create({ upload_id: uploadId, model: 'brain-wm-2d', options: { tta: false } });
  assert.equal(created.status, 202);
  const job = (await created.json()) as Job;
  assert.equal(created.headers.get('location'), `/v1/jobs/${job.id}`);
  assert.ok(['queued', 'running'].includes(job.status));

  const events = await readEvents(await jobs.events(job.id));
  const last = events.at(-1)!;
  assert.equal(last.event, 'succeeded', JSON.stringify(last));
  const progress = events.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data) as Job);
  assert.ok(
    progress.some((p) => p.progress.stage === 'predict'),
    'per-slab progress reaches the client',
  );
  const fractions = progress.map((p) => p.progress.fraction);
  assert.deepEqual(
    fractions,
    [...fractions].sort((a, b) => a - b),
    'progress never goes back',
  );

  const done = (await (await jobs.get(job.id)).json()) as Job;
  assert.equal(done.status, 'succeeded');
  assert.deepEqual(done.shape, [256, 256, 256]);
  assert.equal(done.voxels, 256 ** 3);
  assert.deepEqual(done.charge, { amount_micros: priceOf(256 ** 3), currency: 'USD' });
  assert.equal(done.attempts, 1);
  // The node runs on the CPU provider: the job says so (a WebGPU node would name its adapter).
  assert.deepEqual(done.device, { requested: 'cpu', provider: 'cpu', adapter: null, fallback_reason: null });

  const whole = await jobs.result(job.id);
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('accept-ranges'), 'bytes');
  // A result's bytes are a patient's scan: never sniffed into something a browser would run.
  assert.equal(whole.headers.get('x-content-type-options'), 'nosniff');
  const bytes = new Uint8Array(await whole.arrayBuffer());
  assert.equal(bytes.byteLength, done.result!.bytes);
  const direct = await directLabels(FSB, false);
  const returned = labelsOfNiftiGz(bytes);
  assert.ok(returned.labels.equals(direct.labels), 'the job returns the engine label map');
  assert.deepEqual(returned.image.affine, direct.image.affine, 'in the input geometry');

  const head = await jobs.result(job.id, 'bytes=0-99');
  assert.equal(head.status, 206);
  assert.equal(head.headers.get('content-range'), `bytes 0-99/${bytes.byteLength}`);
  assert.deepEqual(new Uint8Array(await head.arrayBuffer()), bytes.subarray(0, 100));
  const tail = await jobs.result(job.id, 'bytes=-10');
  assert.deepEqual(new Uint8Array(await tail.arrayBuffer()), bytes.subarray(bytes.byteLength - 10));
  await expectProblem(
    await jobs.result(job.id, `bytes=${bytes.byteLength}-`),
    416,
    'range_not_satisfiable',
    doc,
    'get /v1/jobs/{id}/result',
  );

  const usage = (await (await w.fetch('/v1/usage', { headers: acme.auth })).json()) as {
    charges: { job_id: string; amount_micros: number }[];
  };
  assert.deepEqual(
    usage.charges.filter((c) => c.job_id === job.id).map((c) => c.amount_micros),
    [priceOf(256 ** 3)],
  );
});

test('an Idempotency-Key retry returns the first job and is charged once; reused with another body: 422', async () => {
  const body = { upload_id: slabUpload, model: 'brain-wm-2d', options: { tta: false } };
  const [a, b] = await Promise.all([jobs.create(body, 'retry-1'), jobs.create(body, 'retry-1')]);
  const statuses = [a.status, b.status].sort();
  assert.deepEqual(statuses, [200, 202]);
  const [ja, jb] = [(await a.json()) as Job, (await b.json()) as Job];
  assert.equal(ja.id, jb.id);
  assert.equal((a.status === 200 ? a : b).headers.get('idempotent-replayed'), 'true');
  const final = await jobs.waitFinal(ja.id);
  assert.equal(final.status, 'succeeded');
  const again = await jobs.create(body, 'retry-1');
  assert.equal(again.status, 200);
  assert.equal(((await again.json()) as Job).id, ja.id);
  await expectProblem(
    await jobs.create({ ...body, options: { tta: true } }, 'retry-1'),
    422,
    'idempotency_key_reused',
    doc,
    'post /v1/jobs',
  );
  const usage = (await (await w.fetch('/v1/usage', { headers: acme.auth })).json()) as {
    charges: { job_id: string; idempotency_key: string | null }[];
  };
  assert.deepEqual(
    usage.charges.filter((c) => c.idempotency_key === 'retry-1').map((c) => c.job_id),
    [ja.id],
  );
});

test("another tenant's job id answers 404 on every route", async () => {
  const created = await jobs.create({ upload_id: slabUpload, model: 'brain-wm-2d', options: { tta: false } });
  const job = (await created.json()) as Job;
  await jobs.waitFinal(job.id);
  const other = jobClient(w, await w.key('globex'));
  await expectProblem(await other.get(job.id), 404, 'job_not_found', doc, 'get /v1/jobs/{id}');
  await expectProblem(await other.result(job.id), 404, 'job_not_found', doc, 'get /v1/jobs/{id}/result');
  await expectProblem(await other.events(job.id), 404, 'job_not_found', doc, 'get /v1/jobs/{id}/events');
  await expectProblem(await other.delete(job.id), 404, 'job_not_found', doc, 'delete /v1/jobs/{id}');
  assert.equal((await jobs.get(job.id)).status, 200, 'still there for its owner');
  // Nor can a job be made from another tenant's upload.
  await expectProblem(
    await other.create({ upload_id: slabUpload, model: 'brain-wm-2d' }),
    404,
    'upload_not_found',
    doc,
    'post /v1/jobs',
  );
});

test('DELETE cancels a running job: no charge, no result, then 404', async () => {
  const uploadId = await uploadWhole(acme, fsbSlab(96));
  const job = (await (await jobs.create({ upload_id: uploadId, model: 'brain-wm-2d' })).json()) as Job;
  await jobs.waitFor(job.id, (j) => j.progress.stage === 'predict');
  const del = await jobs.delete(job.id);
  assert.equal(del.status, 204);
  await expectProblem(await jobs.get(job.id), 404, 'job_not_found', doc, 'get /v1/jobs/{id}');
  const results = await w.mf.getR2Bucket('RESULTS', 'api');
  assert.equal((await results.list({ prefix: `results/acme/${job.id}/` })).objects.length, 0);
  // The node notices the closed stream; the ledger never sees the job.
  await new Promise((r) => setTimeout(r, 500));
  const usage = (await (await w.fetch('/v1/usage', { headers: acme.auth })).json()) as {
    charges: { job_id: string }[];
  };
  assert.ok(!usage.charges.some((c) => c.job_id === job.id));
});

test('an input the node cannot read fails the job with its problem, uncharged', async () => {
  const garbage = new TextEncoder().encode('this is not an image, just text '.repeat(64));
  const uploadId = await uploadWhole(acme, garbage, 2 ** 20, 'application/octet-stream');
  const job = (await (await jobs.create({ upload_id: uploadId, model: 'brain-wm-2d' })).json()) as Job;
  const final = await jobs.waitFinal(job.id);
  assert.equal(final.status, 'failed');
  assert.equal(final.error?.type, 'https://nnsam-edge.dev/problems/unknown_format');
  assert.equal(final.error?.status, 415);
  assert.equal(final.charge, null);
  await expectProblem(await jobs.result(job.id), 409, 'result_not_ready', doc, 'get /v1/jobs/{id}/result');
});

test('refusals before a job exists: unknown or unpriced model, incomplete upload, budget, concurrency', async () => {
  await expectProblem(
    await jobs.create({ upload_id: slabUpload, model: 'no-such-model' }),
    404,
    'model_not_found',
    doc,
    'post /v1/jobs',
  );
  await expectProblem(
    await jobs.create({ upload_id: slabUpload, model: 'nnsam-tinyvit-random' }),
    409,
    'model_not_priced',
    doc,
    'post /v1/jobs',
  );
  const partial = await acme.create({ length: 10, content_type: 'application/gzip', sha256: '0'.repeat(64) });
  const { id: partialId } = (await partial.json()) as { id: string };
  await expectProblem(
    await jobs.create({ upload_id: partialId, model: 'brain-wm-2d' }),
    409,
    'upload_incomplete',
    doc,
    'post /v1/jobs',
  );

  // Budget: a tenant whose month is spent gets 402 and no job.
  const poorKey = await w.key('poor');
  const poor = uploadClient(w, poorKey);
  const poorUpload = await uploadWhole(poor, SLAB);
  await w.ledger({ op: 'setBudget', tenant: 'poor', micros: 5_000 });
  await expectProblem(
    await jobClient(w, poorKey).create({ upload_id: poorUpload, model: 'brain-wm-2d' }),
    402,
    'budget_exceeded',
    doc,
    'post /v1/jobs',
  );

  // Concurrency: MAX_CONCURRENT_JOBS is 3 in this world.
  const busyKey = await w.key('busy');
  const busy = jobClient(w, busyKey);
  const busyUpload = await uploadWhole(uploadClient(w, busyKey), SLAB);
  const started: Job[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await busy.create({ upload_id: busyUpload, model: 'brain-wm-2d' });
    assert.equal(res.status, 202);
    started.push((await res.json()) as Job);
  }
  const refused = await busy.create({ upload_id: busyUpload, model: 'brain-wm-2d' });
  assert.ok(Number(refused.headers.get('retry-after')) > 0);
  await expectProblem(refused, 429, 'concurrency_limit', doc, 'post /v1/jobs');
  for (const j of started) assert.equal((await busy.delete(j.id)).status, 204);
  const after = await busy.create({ upload_id: busyUpload, model: 'brain-wm-2d', options: { tta: false } });
  assert.equal(after.status, 202, 'deleting jobs frees their slots');
  assert.equal((await busy.waitFinal(((await after.json()) as Job).id)).status, 'succeeded');
});

test('the typed client: upload, job, events to the end, result and Range, usage, delete', async () => {
  const client = new NnsamClient({
    baseUrl: 'http://localhost',
    apiKey: await w.key('typed'),
    fetch: (url, init) => w.mf.dispatchFetch(url, init as never) as unknown as Promise<Response>,
  });
  const upload = await client.upload(SLAB as Uint8Array<ArrayBuffer>, {
    contentType: 'application/gzip',
    chunkBytes: 2 ** 20,
  });
  const job = await client.createJob(
    { upload_id: upload.id, model: 'brain-wm-2d', options: { tta: false } },
    'typed-1',
  );
  conforms(doc, job, 'Job');
  const seen: string[] = [];
  const final = await client.waitForJob(job.id, (j) => seen.push(j.progress.stage));
  assert.equal(final.status, 'succeeded');
  assert.ok(seen.length >= 1);
  conforms(doc, final, 'Job');
  const bytes = await client.jobResult(job.id);
  assert.equal(bytes.byteLength, final.result!.bytes);
  assert.deepEqual(await client.jobResult(job.id, { start: 10, end: 19 }), bytes.subarray(10, 20));
  assert.ok(labelsOfNiftiGz(bytes).labels.equals((await directLabels(SLAB, false)).labels));
  const usage = await client.usage();
  assert.deepEqual(
    usage.charges.map((c) => c.job_id),
    [job.id],
  );
  await client.deleteJob(job.id);
  await assert.rejects(client.job(job.id), (err: Error & { code?: string }) => err.code === 'job_not_found');
});

test('a job on brain-wm-2d@1.2.0 is fixed to that release: its state, result and charge say 1.2.0', async () => {
  const uploadId = await uploadWhole(acme, SLICE, 2 ** 20, 'image/png');
  const created = await jobs.create({
    upload_id: uploadId,
    model: 'brain-wm-2d@1.2.0',
    options: { tta: false },
  });
  assert.equal(created.status, 202);
  const job = (await created.json()) as Job;
  conforms(doc, job, 'Job');
  assert.deepEqual([job.model, job.model_version], ['brain-wm-2d', '1.2.0']);
  const final = await jobs.waitFinal(job.id);
  assert.equal(final.status, 'succeeded', JSON.stringify(final.error));
  assert.deepEqual([final.model, final.model_version], ['brain-wm-2d', '1.2.0']);
  const voxels = final.voxels!;
  assert.deepEqual(final.charge, { amount_micros: priceOf(voxels), currency: 'USD' }, 'the id price');
  const result = new Uint8Array(await (await jobs.result(job.id)).arrayBuffer());
  assert.ok(
    labelsOfNiftiGz(result).labels.equals((await directLabels(SLICE, false, 'brain-wm-2d@1.2.0')).labels),
  );
  const usage = (await (await w.fetch('/v1/usage', { headers: jobs.auth })).json()) as {
    charges: { job_id: string; model: string; model_version: string | null }[];
  };
  const charge = usage.charges.find((c) => c.job_id === job.id);
  assert.deepEqual([charge?.model, charge?.model_version], ['brain-wm-2d', '1.2.0']);

  // A plain id runs, and reports, the current release.
  const plain = (await (
    await jobs.create({ upload_id: uploadId, model: 'brain-wm-2d', options: { tta: false } })
  ).json()) as Job;
  assert.deepEqual([plain.model, plain.model_version], ['brain-wm-2d', CURRENT_WM]);
  assert.equal((await jobs.waitFinal(plain.id)).status, 'succeeded');

  const refused = async (model: string, status: number, code: string) =>
    expectProblem(await jobs.create({ upload_id: uploadId, model }), status, code, doc, 'post /v1/jobs');
  const missing = await refused('brain-wm-2d@9.9.9', 404, 'model_not_found');
  assert.match(missing.detail, /No version 9\.9\.9 of model 'brain-wm-2d'/);
  await refused('brain-wm-2d@1.2', 400, 'invalid_request');

  // `refine` was removed (issue 13): asking for it is refused with the reason, not silently ignored.
  const refine = await expectProblem(
    await jobs.create({ upload_id: uploadId, model: 'brain-wm-2d', options: { tta: true, refine: true } }),
    400,
    'invalid_request',
    doc,
    'post /v1/jobs',
  );
  assert.match(refine.detail, /refine was removed: it lowered Dice/);
});
