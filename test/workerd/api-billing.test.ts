// Exactly-once charging through the API (issue 10), with a real inference node and the Worker in
// workerd: the billing bypasses the issue found are closed, and under a seeded concurrent mix of
// one-shots and jobs with replays, key reuse across operations, cancels, malformed inputs and the
// node killed and restarted mid-run, the ledger holds exactly one charge per delivered result.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { SHARED_DATA } from '../support/goldens.js';
import { expectProblem, openApiDoc, uploadClient, uploadWhole, type OpenApiDoc } from './api-checks.js';
import { startApi, type ApiWorld } from './api-world.js';
import { freePort, startNode, type InferenceNode } from './inference-nodes.js';
import { mulberry32 } from './fuzz-inputs.js';
import { fsbSlab, PRICES, SLICE } from './job-fixtures.js';
import { jobClient, type Job } from './job-client.js';

const MODEL = 'brain-wm-2d';
/** A second, different valid input: the same PNG with bytes after IEND (ignored by decoders). */
const SLICE_B = new Uint8Array([...SLICE, ...new TextEncoder().encode('another body')]);
const SLAB = fsbSlab(16);

let port: number;
let node: InferenceNode;
let w: ApiWorld;
let doc: OpenApiDoc;
const workerLogs: string[] = [];

before(async () => {
  port = await freePort();
  node = await startNode(['--port', String(port)]);
  w = await startApi('billing', {
    vars: {
      INFERENCE_NODES: node.url,
      DEFAULT_PRICES: JSON.stringify(PRICES),
      EDGE_MAX_VOXELS: '0',
      MAX_CONCURRENT_JOBS: '6',
    },
    onStdio: (text) => workerLogs.push(text),
  });
  doc = await openApiDoc(w);
});

after(async () => {
  await w?.dispose();
  await node?.kill();
});

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

function segment(key: string, body: Uint8Array, headers: Record<string, string> = {}) {
  return w.fetch(`/v1/segment?model=${MODEL}`, {
    method: 'POST',
    headers: { ...auth(key), 'content-type': 'application/octet-stream', ...headers },
    body: body as unknown as BodyInit,
  });
}

interface Usage {
  charges: { job_id: string; idempotency_key: string | null; amount_micros: number }[];
  totals: { amount_micros: number; count: number }[];
}
async function usage(key: string): Promise<Usage> {
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  const res = await w.fetch(`/v1/usage?from=${day(-1)}&to=${day(2)}`, { headers: auth(key) });
  assert.equal(res.status, 200);
  return (await res.json()) as Usage;
}

test('the billing bypasses of issue 10 are closed: a key is bound to one request and one operation', async () => {
  const key = await w.key('bypass');
  const jobs = jobClient(w, key);

  const first = await segment(key, SLICE, { 'idempotency-key': 'k1' });
  assert.equal(first.status, 200, await first.clone().text());
  const charge = first.headers.get('x-charge-micros');
  const bytes = new Uint8Array(await first.arrayBuffer());

  // Another body under the same key: refused, not answered for free.
  await expectProblem(
    await segment(key, SLICE_B, { 'idempotency-key': 'k1' }),
    422,
    'idempotency_key_reused',
    doc,
    'post /v1/segment',
  );
  // Another answer format is another request too.
  await expectProblem(
    await segment(key, SLICE, { 'idempotency-key': 'k1', accept: 'image/png' }),
    422,
    'idempotency_key_reused',
    doc,
    'post /v1/segment',
  );
  // The same request again: the stored result and the first charge, no new run.
  const replay = await segment(key, SLICE, { 'idempotency-key': 'k1' });
  assert.equal(replay.status, 200);
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  assert.equal(replay.headers.get('x-charge-micros'), charge);
  assert.deepEqual(new Uint8Array(await replay.arrayBuffer()), bytes);

  // Across operations: a job with a one-shot's key, a one-shot with a job's key.
  const uploadId = await uploadWhole(uploadClient(w, key), SLAB);
  const jobBody = { upload_id: uploadId, model: MODEL, options: { tta: false } };
  await expectProblem(await jobs.create(jobBody, 'k1'), 422, 'idempotency_key_reused', doc, 'post /v1/jobs');
  const created = await jobs.create(jobBody, 'k2');
  assert.equal(created.status, 202);
  const job = (await created.json()) as Job;
  await expectProblem(
    await segment(key, SLICE, { 'idempotency-key': 'k2' }),
    422,
    'idempotency_key_reused',
    doc,
    'post /v1/segment',
  );
  const done = await jobs.waitFinal(job.id);
  assert.equal(done.status, 'succeeded');

  const ledger = await usage(key);
  assert.deepEqual(
    ledger.charges.map((c) => [c.idempotency_key, c.amount_micros]).sort(),
    [
      ['k1', Number(charge)],
      ['k2', done.charge!.amount_micros],
    ].sort(),
    'one charge per delivered result: the one-shot once, the job once',
  );
});

test('a concurrent mix with replays, key reuse, cancels, bad inputs and a node killed mid-run: charges equal delivered results', async () => {
  const key = await w.key('mix');
  const jobs = jobClient(w, key);
  const uploadId = await uploadWhole(uploadClient(w, key), SLAB);
  const rand = mulberry32(20261201);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];

  /** Charge seen by the client per delivered keyed one-shot; a replay must show the same one. */
  const deliveredKeyed = new Map<string, number>();
  let deliveredUnkeyed = 0;
  let unkeyedMicros = 0;
  const usedKeys: string[] = [];
  const jobIds: string[] = [];
  const cancelled = new Set<string>();
  const statuses: Record<string, number> = {};
  let n = 0;
  const kinds = ['oneshot', 'oneshot', 'oneshot', 'replay', 'reuse', 'unkeyed', 'malformed', 'job', 'cancel'];

  async function oneShot(body: Uint8Array, k: string | null): Promise<void> {
    const res = await segment(key, body, k ? { 'idempotency-key': k } : {});
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    await res.arrayBuffer();
    if (res.status !== 200) {
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      assert.ok(res.headers.get('x-request-id'));
      assert.ok([409, 422, 429, 503].includes(res.status), `unexpected ${res.status}`);
      return;
    }
    const micros = Number(res.headers.get('x-charge-micros'));
    assert.ok(micros > 0);
    if (k === null) {
      deliveredUnkeyed++;
      unkeyedMicros += micros;
    } else if (deliveredKeyed.has(k)) {
      assert.equal(res.headers.get('idempotent-replayed'), 'true');
      assert.equal(micros, deliveredKeyed.get(k), `replay of ${k} shows the first charge`);
    } else {
      deliveredKeyed.set(k, micros);
    }
  }

  async function step(kind: string): Promise<void> {
    const i = n++;
    switch (kind) {
      case 'oneshot': {
        const k = `mix-${i}`;
        usedKeys.push(k);
        return oneShot(SLICE, k);
      }
      case 'replay':
        return usedKeys.length ? oneShot(SLICE, pick(usedKeys)) : oneShot(SLICE, null);
      case 'reuse': {
        if (!usedKeys.length) return;
        const res = await segment(key, SLICE_B, { 'idempotency-key': pick(usedKeys) });
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        // 422 for a key bound to SLICE; 409 while its first run still goes on.
        assert.ok([409, 422].includes(res.status), `key reuse answered ${res.status}`);
        await res.arrayBuffer();
        return;
      }
      case 'unkeyed':
        return oneShot(SLICE, null);
      case 'malformed': {
        const bad = pick([
          new Uint8Array(0),
          SLICE.subarray(0, 100),
          new TextEncoder().encode('not an image'),
        ]);
        const res = await segment(key, bad, { 'idempotency-key': `bad-${i}` });
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        // A body whose header reads well is only found broken by the node: 503 while it is down.
        assert.ok(
          (res.status >= 400 && res.status < 500) || res.status === 503,
          `malformed input answered ${res.status}`,
        );
        assert.notEqual(res.status, 200);
        await res.arrayBuffer();
        return;
      }
      case 'job':
      case 'cancel': {
        const res = await jobs.create(
          { upload_id: uploadId, model: MODEL, options: { tta: false } },
          `job-${i}`,
        );
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status !== 202) {
          assert.equal(res.status, 429);
          await res.arrayBuffer();
          return;
        }
        const job = (await res.json()) as Job;
        jobIds.push(job.id);
        // A job replay answers the same job.
        const again = (await (
          await jobs.create({ upload_id: uploadId, model: MODEL, options: { tta: false } }, `job-${i}`)
        ).json()) as Job;
        assert.equal(again.id, job.id);
        if (kind === 'cancel') {
          assert.equal((await jobs.delete(job.id)).status, 204);
          cancelled.add(job.id);
        }
        return;
      }
    }
  }

  const plan = Array.from({ length: 48 }, () => pick(kinds));
  // The node dies with runs in flight and comes back on the same port; the second half of the
  // plan waits for it, so that results are delivered after the restart too.
  let restarted!: () => void;
  const back = new Promise<void>((resolve) => (restarted = resolve));
  const chaos = (async () => {
    while (n < 8) await new Promise((r) => setTimeout(r, 20));
    await node.kill();
    await new Promise((r) => setTimeout(r, 500));
    node = await startNode(['--port', String(port)]);
    restarted();
  })();
  let next = 0;
  const worker = async () => {
    while (next < plan.length) {
      const i = next++;
      if (i >= plan.length / 2) await back;
      await step(plan[i]);
    }
  };
  await Promise.all([...Array.from({ length: 4 }, worker), chaos]);

  // Jobs run on; every one that succeeds is delivered (its result downloads).
  let jobMicros = 0;
  let deliveredJobs = 0;
  for (const id of jobIds) {
    if (cancelled.has(id)) {
      assert.equal((await jobs.get(id)).status, 404);
      continue;
    }
    const final = await jobs.waitFinal(id);
    if (final.status !== 'succeeded') {
      assert.equal(final.charge, null, `a ${final.status} job is not charged`);
      continue;
    }
    assert.equal((await jobs.result(id)).status, 200);
    deliveredJobs++;
    jobMicros += final.charge!.amount_micros;
  }

  const ledger = await usage(key);
  const byKey = new Map(
    ledger.charges.filter((c) => c.idempotency_key !== null).map((c) => [c.idempotency_key!, c]),
  );
  for (const [k, micros] of deliveredKeyed)
    assert.equal(byKey.get(k)?.amount_micros, micros, `ledger row of ${k}`);
  const delivered = deliveredKeyed.size + deliveredUnkeyed + deliveredJobs;
  const expectedMicros = [...deliveredKeyed.values()].reduce((a, b) => a + b, 0) + unkeyedMicros + jobMicros;
  console.log(
    `billing mix: ${plan.length} requests, statuses ${JSON.stringify(statuses)}, delivered ${delivered} ` +
      `(${deliveredKeyed.size} keyed one-shots, ${deliveredUnkeyed} unkeyed, ${deliveredJobs} jobs), ` +
      `${cancelled.size} cancelled, ledger ${ledger.charges.length} charges`,
  );
  assert.equal(ledger.charges.length, delivered, 'one charge per delivered result, none for anything else');
  assert.equal(ledger.totals[0]?.amount_micros ?? 0, expectedMicros);
  assert.ok(deliveredKeyed.size > 0 && deliveredJobs > 0, 'the mix delivered one-shots and jobs');
  assert.ok(!workerLogs.join('').includes('"unhandled"'), 'no unhandled error in the Worker');
});

test('a chest X-ray given to the brain T1 model is answered with a modality warning, a brain slice without', async () => {
  const key = await w.key('modality');
  const xray = new Uint8Array(readFileSync(`${SHARED_DATA}fixtures/chest-xray/1.jpg`));
  const warned = await segment(key, xray, { accept: 'application/json' });
  assert.equal(warned.status, 200, await warned.clone().text());
  const warnings = JSON.parse(warned.headers.get('x-input-warnings') ?? '[]') as string[];
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /JPEG.*brain-wm-2d expects T1/);
  const clean = await segment(key, SLICE, { accept: 'application/json' });
  assert.equal(clean.status, 200);
  assert.equal(clean.headers.get('x-input-warnings'), null);
});

test("a job whose upload's bytes are gone from R2 fails with 410 upload_gone, uncharged", async () => {
  const key = await w.key('r2-gone');
  const jobs = jobClient(w, key);
  const uploadId = await uploadWhole(uploadClient(w, key), SLAB);
  // The fault: the object vanishes from R2 while the upload's record still says complete.
  await (await w.mf.getR2Bucket('UPLOADS', 'api')).delete(`uploads/r2-gone/${uploadId}/data`);
  const created = await jobs.create({ upload_id: uploadId, model: MODEL, options: { tta: false } });
  assert.equal(created.status, 202, await created.clone().text());
  const final = await jobs.waitFinal(((await created.json()) as Job).id);
  assert.equal(final.status, 'failed');
  assert.equal(final.error?.type, 'https://nnsam-edge.dev/problems/upload_gone');
  assert.equal(final.charge, null);
  assert.deepEqual((await usage(key)).charges, []);
});

/** Waits up to 5 s for the node to have no run going, then requires it: a stopped run frees its slot. */
async function assertNodeIdle(): Promise<void> {
  const running = async () =>
    ((await (await fetch(`${node.url}/healthz`)).json()) as { running: number }).running;
  for (let i = 0; i < 100 && (await running()) !== 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await running(), 0, 'the node run stopped');
}

test('a one-shot past its deadline ends with 504 run_timeout, its node run stops, and nothing is charged', async () => {
  // A world of its own with a 2 s one-shot deadline. (A client that hangs up aborts the same
  // signal through workerd's enable_request_signal; Miniflare does not abort request.signal when its
  // client disconnects, so here the deadline stands for both.)
  const short = await startApi('billing-deadline', {
    vars: {
      INFERENCE_NODES: node.url,
      DEFAULT_PRICES: JSON.stringify(PRICES),
      EDGE_MAX_VOXELS: '0',
      ONE_SHOT_SECONDS: '2',
    },
  });
  try {
    const key = await short.key('deadline');
    const big = fsbSlab(64); // 2304 evaluations with TTA: tens of seconds on the node
    const started = performance.now();
    const res = await short.fetch(`/v1/segment?model=${MODEL}`, {
      method: 'POST',
      headers: { ...auth(key), 'content-type': 'application/octet-stream' },
      body: big as unknown as BodyInit,
    });
    await expectProblem(res, 504, 'run_timeout', doc, 'post /v1/segment');
    await assertNodeIdle();
    const stoppedMs = performance.now() - started;
    console.log(
      `deadline: 504 and the node run stopped ${Math.round(stoppedMs)} ms after the request (deadline 2000 ms)`,
    );
    assert.ok(node.logs.some((l) => /"outcome":"(cancelled|run_timeout)"/.test(l)));
    const usageRes = await short.fetch('/v1/usage', { headers: auth(key) });
    assert.deepEqual(((await usageRes.json()) as Usage).charges, []);
  } finally {
    await short.dispose();
  }
});

test('a job past its deadline fails with 504 job_timeout, its node run stops, and nothing is charged', async () => {
  // The timeout goes through the ledger's cancel (job-runner.ts timedOut), which also bars a charge
  // still on its way; with no charge there, the job fails and keeps no result.
  const short = await startApi('billing-job-deadline', {
    vars: { INFERENCE_NODES: node.url, DEFAULT_PRICES: JSON.stringify(PRICES), MAX_JOB_SECONDS: '3' },
  });
  try {
    const key = await short.key('job-deadline');
    const jobs = jobClient(short, key);
    const uploadId = await uploadWhole(uploadClient(short, key), fsbSlab(64));
    const created = await jobs.create({ upload_id: uploadId, model: MODEL });
    assert.equal(created.status, 202, await created.clone().text());
    const job = (await created.json()) as Job;
    const final = await jobs.waitFinal(job.id, 30_000);
    assert.equal(final.status, 'failed');
    assert.equal(final.error?.type, 'https://nnsam-edge.dev/problems/job_timeout');
    assert.equal(final.error?.status, 504);
    assert.equal(final.charge, null);
    await assertNodeIdle();
    const results = await short.mf.getR2Bucket('RESULTS', 'api');
    assert.equal((await results.list({ prefix: `results/job-deadline/${job.id}/` })).objects.length, 0);
    const usageRes = await short.fetch('/v1/usage', { headers: auth(key) });
    assert.deepEqual(((await usageRes.json()) as Usage).charges, []);
  } finally {
    await short.dispose();
  }
});

test('a job charged by an earlier attempt whose rerun fails is recovered with that result, not failed with the charge kept', async () => {
  // The state a runner leaves when it wrote the result and charged it, then died before marking the
  // job succeeded (an eviction, a failed storage write): the alarm's rerun finds the job running.
  // Here the earlier attempt's result and charge are put in place by hand while the rerun's node run
  // is going, and then that node is killed, so the rerun ends with no node left (finishFailed). The
  // node's run takes tens of seconds (2,304 evaluations), against the milliseconds between seeing it
  // running and killing it, so it cannot finish and overwrite the earlier result in between.
  const own = await startNode();
  const world = await startApi('billing-recovery', {
    ledgerHarness: true,
    vars: { INFERENCE_NODES: own.url, DEFAULT_PRICES: JSON.stringify(PRICES), EDGE_MAX_VOXELS: '0' },
  });
  try {
    const tenant = 'recovery';
    const key = await world.key(tenant);
    const jobs = jobClient(world, key);
    const uploadId = await uploadWhole(uploadClient(world, key), fsbSlab(64));
    const created = await jobs.create({ upload_id: uploadId, model: MODEL });
    assert.equal(created.status, 202, await created.clone().text());
    const job = (await created.json()) as Job;
    await jobs.waitFor(job.id, (j) => j.status === 'running' && j.attempts === 1, 60_000);

    const earlier = new TextEncoder().encode('the earlier attempt wrote these bytes');
    const results = await world.mf.getR2Bucket('RESULTS', 'api');
    await results.put(`results/${tenant}/${job.id}/labels`, earlier, {
      httpMetadata: { contentType: 'application/gzip' },
    });
    const price = PRICES.models[MODEL];
    const [charged] = await world.ledger<{ kind: string; charge: { amount_micros: number } }[]>({
      op: 'record',
      tenant,
      input: {
        job_id: job.id,
        idempotency_key: null,
        model: MODEL,
        voxels: 1_000_000,
        price: { currency: PRICES.currency, ...price },
        at: Date.now(),
      },
    });
    assert.equal(charged.kind, 'charged');
    await own.kill();

    const final = await jobs.waitFinal(job.id, 60_000);
    assert.equal(final.status, 'succeeded', JSON.stringify(final.error));
    assert.deepEqual(final.charge, {
      amount_micros: charged.charge.amount_micros,
      currency: PRICES.currency,
    });
    assert.equal(final.voxels, 1_000_000, 'the job reports what was charged for');
    const body = await jobs.result(job.id);
    assert.equal(body.status, 200);
    assert.deepEqual(new Uint8Array(await body.arrayBuffer()), earlier);
    const usageRes = await world.fetch('/v1/usage', { headers: auth(key) });
    const charges = ((await usageRes.json()) as Usage).charges;
    assert.deepEqual(
      charges.map((c) => [c.job_id, c.amount_micros]),
      [[job.id, charged.charge.amount_micros]],
      'the one charge, not a second',
    );
  } finally {
    await world.dispose();
    await own.kill();
  }
});
