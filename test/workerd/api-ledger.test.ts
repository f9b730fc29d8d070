// The per-tenant billing ledger (a SQLite-backed Durable Object) in workerd, called through its RPC
// interface by the ledger harness exactly as the API calls it: one charge per job however many
// concurrent duplicates or idempotent retries arrive, exact integer sums, the 402 budget check, and
// GET /v1/usage as JSON and CSV per tenant.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { readImage } from '../../engine/io/index.js';
import { SHARED_DATA } from '../support/goldens.js';
import { expectProblem, openApiDoc } from './api-checks.js';
import type { ChargeInputJson } from './ledger-call.js';
import { startApi, type ApiWorld } from './api-world.js';

interface Charge {
  job_id: string;
  idempotency_key: string | null;
  amount_micros: number;
  voxels: number;
  charged_at: number;
}
interface Recorded {
  charge: Charge;
  duplicate: boolean;
}
interface Usage {
  charges: Charge[];
  totals: { currency: string; amount_micros: number; count: number }[];
}

const PRICE = { currency: 'USD', base_micros: 20_000, per_megavoxel_micros: 1_337 };
let w: ApiWorld;
let voxels: number;

before(async () => {
  w = await startApi('ledger', { ledgerHarness: true });
  const image = await readImage(
    new Uint8Array(readFileSync(`${SHARED_DATA}brain-wm/imagesTr/fsB_0000.nii.gz`)),
    {
      name: 'fsB_0000.nii.gz',
    },
  );
  voxels = image.shape[0] * image.shape[1] * image.shape[2];
});

after(async () => {
  await w?.dispose();
});

// The price in exact integer arithmetic: base + per-megavoxel rate, rounded half up.
const expectedMicros = (v: number) =>
  PRICE.base_micros + Number((BigInt(PRICE.per_megavoxel_micros) * BigInt(v) + 500_000n) / 1_000_000n);

const charge = (job: string, key: string | null = null, at = Date.now()): ChargeInputJson => ({
  job_id: job,
  idempotency_key: key,
  model: 'nnsam-tinyvit-random',
  voxels,
  price: PRICE,
  at,
});

const range = { from: 0, to: 8.64e15 };

test('concurrent duplicates of one job charge exactly once, priced from the table', async () => {
  // 50 concurrent records inside workerd, and 20 concurrent harness requests of 5 each from here.
  const inside = await w.ledger<Recorded[]>({
    op: 'record',
    tenant: 't-dup',
    input: charge('job-1'),
    times: 50,
  });
  const outside = (
    await Promise.all(
      Array.from({ length: 20 }, () =>
        w.ledger<Recorded[]>({ op: 'record', tenant: 't-dup', input: charge('job-1'), times: 5 }),
      ),
    )
  ).flat();
  const all = [...inside, ...outside];
  assert.equal(all.filter((r) => !r.duplicate).length, 1, 'exactly one first record');
  assert.ok(all.every((r) => r.charge.amount_micros === expectedMicros(voxels)));
  assert.equal(new Set(all.map((r) => r.charge.charged_at)).size, 1, 'every answer is the one stored charge');
  const usage = await w.ledger<Usage>({ op: 'usage', tenant: 't-dup', ...range });
  assert.equal(usage.charges.length, 1);
  assert.deepEqual(usage.totals, [{ currency: 'USD', amount_micros: expectedMicros(voxels), count: 1 }]);
});

test('an idempotency key already charged returns the first charge, even under a new job id', async () => {
  const first = await w.ledger<Recorded[]>({
    op: 'record',
    tenant: 't-idem',
    input: charge('job-a', 'key-1'),
  });
  const retry = await w.ledger<Recorded[]>({
    op: 'record',
    tenant: 't-idem',
    input: charge('job-b', 'key-1'),
  });
  assert.equal(first[0].duplicate, false);
  assert.equal(retry[0].duplicate, true);
  assert.equal(retry[0].charge.job_id, 'job-a');
  const other = await w.ledger<Recorded[]>({
    op: 'record',
    tenant: 't-idem',
    input: charge('job-c', 'key-2'),
  });
  assert.equal(other[0].duplicate, false);
  // Ledgers are per tenant: the same job id elsewhere is another tenant's charge.
  const elsewhere = await w.ledger<Recorded[]>({
    op: 'record',
    tenant: 't-other',
    input: charge('job-a', 'key-1'),
  });
  assert.equal(elsewhere[0].duplicate, false);
  const usage = await w.ledger<Usage>({ op: 'usage', tenant: 't-idem', ...range });
  assert.deepEqual(usage.charges.map((c) => c.job_id).sort(), ['job-a', 'job-c']);
});

test('200 jobs at concurrency 20 with retried records: the ledger equals the jobs exactly', async () => {
  const jobs = Array.from({ length: 200 }, (_, i) => ({ id: `bulk-${i}`, voxels: 1000 + i * 7919 }));
  let next = 0;
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      const input = { ...charge(job.id, `idem-${job.id}`), voxels: job.voxels };
      // A third of the jobs are recorded twice (a node retried its completion report).
      await w.ledger({ op: 'record', tenant: 't-bulk', input, times: rand() < 0.33 ? 2 : 1 });
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker));
  const usage = await w.ledger<Usage>({ op: 'usage', tenant: 't-bulk', ...range });
  assert.deepEqual(usage.charges.map((c) => c.job_id).sort(), jobs.map((j) => j.id).sort());
  const total = jobs.reduce((s, j) => s + expectedMicros(j.voxels), 0);
  assert.deepEqual(usage.totals, [{ currency: 'USD', amount_micros: total, count: 200 }]);
});

test('the monthly budget check answers 402 budget_exceeded past the budget, counting this month only', async () => {
  const now = Date.UTC(2026, 10, 15);
  const oneCharge = expectedMicros(voxels);
  await w.ledger({
    op: 'record',
    tenant: 't-budget',
    input: charge('old', null, Date.UTC(2026, 9, 31, 23, 59)),
  });
  await w.ledger({ op: 'record', tenant: 't-budget', input: charge('this', null, now) });
  await w.ledger({ op: 'setBudget', tenant: 't-budget', micros: oneCharge + 1000 });
  const fits = await w.ledger<{ status: number; budget: { spent_micros: number } }>({
    op: 'assertBudget',
    tenant: 't-budget',
    estimate: 1000,
    now,
  });
  assert.equal(fits.status, 200);
  assert.equal(fits.budget.spent_micros, oneCharge, "last month's charge does not count");
  const over = await w.ledger({ op: 'assertBudget', tenant: 't-budget', estimate: 1001, now });
  assert.deepEqual(over, { status: 402, code: 'budget_exceeded' });
  await w.ledger({ op: 'setBudget', tenant: 't-budget', micros: null });
  assert.equal(
    (await w.ledger<{ status: number }>({ op: 'assertBudget', tenant: 't-budget', estimate: 1e9, now }))
      .status,
    200,
  );
});

// Idempotency keys are the client's text: in the CSV, one that starts like a spreadsheet formula gets
// a leading quote (OWASP CSV injection), then the usual quoting. A tenant of its own keeps the other
// usage checks' rows as they are.
test('GET /v1/usage as CSV: keys that start like a formula (= + - @ tab CR) get a leading quote', async () => {
  const at = Date.now();
  const keys = ['=HYPERLINK("http://x","y")', '+1', '-1+2', '@SUM(A1)', '\tx', '\r=1', 'ok=1'];
  const tenant = { authorization: `Bearer ${await w.key('csv-formulas')}` };
  for (const [i, key] of keys.entries()) {
    await w.ledger({ op: 'record', tenant: 'csv-formulas', input: charge(`job-f${i}`, key, at + i) });
  }
  const csv = await (await w.fetch('/v1/usage', { headers: { ...tenant, accept: 'text/csv' } })).text();
  const keyColumn = csv
    .split('\r\n')
    .slice(1, -1)
    .map((line) => line.slice(line.indexOf(',') + 1, line.indexOf(',nnsam-tinyvit-random')));
  assert.deepEqual(keyColumn, [
    `"'=HYPERLINK(""http://x"",""y"")"`,
    `'+1`,
    `'-1+2`,
    `'@SUM(A1)`,
    `'\tx`,
    `"'\r=1"`,
    'ok=1',
  ]);
});

test('GET /v1/usage: the tenant own charges as JSON or CSV, filtered by from/to', async () => {
  const doc = await openApiDoc(w);
  const at = Date.now();
  await w.ledger({ op: 'record', tenant: 'acme', input: charge('job-x', 'k,"quoted"', at) });
  await w.ledger({ op: 'record', tenant: 'acme', input: charge('job-y', null, at + 1) });
  const acme = { authorization: `Bearer ${await w.key('acme')}` };

  const json = await w.fetch('/v1/usage', { headers: acme });
  assert.equal(json.status, 200);
  const body = (await json.json()) as {
    charges: { job_id: string; charged_at: string }[];
    totals: Usage['totals'];
  };
  assert.deepEqual(
    body.charges.map((c) => c.job_id),
    ['job-x', 'job-y'],
  );
  assert.equal(body.charges[0].charged_at, new Date(at).toISOString());
  assert.deepEqual(body.totals, [{ currency: 'USD', amount_micros: 2 * expectedMicros(voxels), count: 2 }]);

  const csv = await w.fetch('/v1/usage', { headers: { ...acme, accept: 'text/csv' } });
  assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
  const lines = (await csv.text()).trimEnd().split('\r\n');
  assert.equal(lines[0], 'job_id,idempotency_key,model,voxels,amount_micros,currency,charged_at');
  assert.equal(
    lines[1],
    `job-x,"k,""quoted""",nnsam-tinyvit-random,${voxels},${expectedMicros(voxels)},USD,${new Date(at).toISOString()}`,
  );
  assert.equal(lines.length, 3);
  const preferJson = await w.fetch('/v1/usage', {
    headers: { ...acme, accept: 'application/json, text/csv' },
  });
  assert.match(preferJson.headers.get('content-type') ?? '', /^application\/json/);

  const day = (t: number) => new Date(t).toISOString().slice(0, 10);
  const early = await w.fetch(`/v1/usage?from=${day(at - 30 * 86_400_000)}&to=${day(at)}`, { headers: acme });
  assert.equal(early.status, 200);
  assert.deepEqual(((await early.json()) as Usage).charges, []);
  const span = await w.fetch(`/v1/usage?from=${day(at)}&to=${day(at + 86_400_000)}`, { headers: acme });
  assert.equal(((await span.json()) as Usage).charges.length, 2);
  await expectProblem(
    await w.fetch('/v1/usage?from=2026-02-01&to=2026-01-01', { headers: acme }),
    400,
    'invalid_request',
    doc,
    'get /v1/usage',
  );
  await expectProblem(
    await w.fetch('/v1/usage?from=yesterday', { headers: acme }),
    400,
    'invalid_request',
    doc,
    'get /v1/usage',
  );

  const globex = await w.fetch('/v1/usage', {
    headers: { authorization: `Bearer ${await w.key('globex')}` },
  });
  assert.deepEqual(
    ((await globex.json()) as Usage).charges,
    [],
    "another tenant sees none of acme's charges",
  );
});
