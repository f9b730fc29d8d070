// Ledger exactness under load: 200 job requests, 20 at a time, over two real inference nodes, with
// failures injected (one request in five names an unreadable upload, one node is killed halfway)
// and client retries (one request in four is sent twice with its Idempotency-Key). Afterwards the
// tenant's ledger holds exactly one charge per succeeded job, at its price, and nothing else.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readImage } from '../../engine/io/index.js';
import { uploadClient, uploadWhole } from './api-checks.js';
import { startApi, type ApiWorld } from './api-world.js';
import { startNode, type InferenceNode } from './inference-nodes.js';
import { priceOf, PRICES, SLICE } from './job-fixtures.js';
import { jobClient, type Job } from './job-client.js';

const REQUESTS = 200;
const CONCURRENCY = 20;
let w: ApiWorld;
let nodes: InferenceNode[];

before(async () => {
  nodes = await Promise.all([startNode(['--queue', '32']), startNode(['--queue', '32'])]);
  w = await startApi('jobs-ledger', {
    vars: {
      INFERENCE_NODES: nodes.map((n) => n.url).join(','),
      DEFAULT_PRICES: JSON.stringify(PRICES),
      MAX_CONCURRENT_JOBS: String(CONCURRENCY),
    },
  });
});

after(async () => {
  await w?.dispose();
  await Promise.all(nodes.map((n) => n.kill()));
});

test(`${REQUESTS} job requests at concurrency ${CONCURRENCY} with failures: the ledger equals the successes`, async () => {
  const key = await w.key('load');
  const uploads = uploadClient(w, key);
  const jobs = jobClient(w, key);
  const good = await uploadWhole(uploads, SLICE, 2 ** 20, 'image/png');
  const bad = await uploadWhole(
    uploads,
    new TextEncoder().encode('not an image '.repeat(100)),
    2 ** 20,
    'application/octet-stream',
  );
  const voxels = readImage(SLICE).shape.reduce((a, b) => a * b, 1);

  const outcomes: { request: number; id: string; status: string; charge: number | null }[] = [];
  let next = 0;
  let killed = false;
  async function create(body: unknown, idempotencyKey: string): Promise<Job> {
    for (;;) {
      const res = await jobs.create(body, idempotencyKey);
      if (res.status === 429) {
        await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after')) * 1000));
        continue;
      }
      assert.ok(res.status === 202 || res.status === 200, `${res.status} ${await res.clone().text()}`);
      return (await res.json()) as Job;
    }
  }
  async function client(): Promise<void> {
    for (let i = next++; i < REQUESTS; i = next++) {
      if (i === REQUESTS / 2 && !killed) {
        killed = true;
        await nodes[0].kill();
      }
      const body = { upload_id: i % 5 === 4 ? bad : good, model: 'brain-wm-2d', options: { tta: false } };
      const sends = i % 4 === 1 ? 2 : 1;
      const created = await Promise.all(Array.from({ length: sends }, () => create(body, `request-${i}`)));
      assert.equal(new Set(created.map((j) => j.id)).size, 1, 'a retry finds the first job');
      const final = await jobs.waitFinal(created[0].id, 300_000, 200);
      outcomes.push({
        request: i,
        id: final.id,
        status: final.status,
        charge: final.charge?.amount_micros ?? null,
      });
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, client));

  assert.equal(outcomes.length, REQUESTS);
  const succeeded = outcomes.filter((o) => o.status === 'succeeded');
  const failed = outcomes.filter((o) => o.status !== 'succeeded');
  assert.deepEqual(
    failed.map((o) => o.request).sort((a, b) => a - b),
    outcomes
      .filter((o) => o.request % 5 === 4)
      .map((o) => o.request)
      .sort((a, b) => a - b),
    'exactly the unreadable inputs failed (the killed node only moved jobs)',
  );
  const usage = (await (await w.fetch('/v1/usage', { headers: jobs.auth })).json()) as {
    charges: { job_id: string; amount_micros: number; idempotency_key: string | null }[];
    totals: { amount_micros: number; count: number }[];
  };
  assert.deepEqual(
    usage.charges.map((c) => c.job_id).sort(),
    succeeded.map((o) => o.id).sort(),
    'one charge per succeeded job, none for failures',
  );
  assert.ok(usage.charges.every((c) => c.amount_micros === priceOf(voxels)));
  assert.deepEqual(usage.totals, [
    { currency: 'USD', amount_micros: priceOf(voxels) * succeeded.length, count: succeeded.length },
  ]);
  assert.ok(succeeded.every((o) => o.charge === priceOf(voxels)));
});
