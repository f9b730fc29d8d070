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
import type { AdmitInputJson, ChargeInputJson } from './ledger-call.js';
import { startApi, type ApiWorld } from './api-world.js';

interface Charge {
  job_id: string;
  idempotency_key: string | null;
  amount_micros: number;
  voxels: number;
  charged_at: number;
}
type Recorded =
  { kind: 'charged'; charge: Charge; duplicate: boolean } | { kind: 'superseded' } | { kind: 'cancelled' };
type Charged = Extract<Recorded, { kind: 'charged' }>;
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
  const all = [...inside, ...outside] as Charged[];
  assert.ok(all.every((r) => r.kind === 'charged'));
  assert.equal(all.filter((r) => !r.duplicate).length, 1, 'exactly one first record');
  assert.ok(all.every((r) => r.charge.amount_micros === expectedMicros(voxels)));
  assert.equal(new Set(all.map((r) => r.charge.charged_at)).size, 1, 'every answer is the one stored charge');
  const usage = await w.ledger<Usage>({ op: 'usage', tenant: 't-dup', ...range });
  assert.equal(usage.charges.length, 1);
  assert.deepEqual(usage.totals, [{ currency: 'USD', amount_micros: expectedMicros(voxels), count: 1 }]);
});

const admitInput = (
  job: string,
  key: string | null,
  fingerprint: string,
  operation: 'segment' | 'job' = 'segment',
): AdmitInputJson => ({
  job_id: job,
  operation,
  idempotency_key: key,
  fingerprint,
  evaluations: 10,
  limit: 100,
  max_evaluations: 1_000_000,
  now: Date.now(),
  expires_at: Date.now() + 60_000,
});
const admit = async (tenant: string, input: AdmitInputJson) =>
  (
    await w.ledger<{ kind: string; job_id?: string; charge?: Charge | null; operation?: string }[]>({
      op: 'admit',
      tenant,
      input,
    })
  )[0];
const record = async (tenant: string, job: string, key: string | null) =>
  (await w.ledger<Recorded[]>({ op: 'record', tenant, input: charge(job, key) }))[0];

test('a key is bound to one request: a replay finds the first run and its one charge, another request is refused', async () => {
  const t = 't-idem';
  assert.equal((await admit(t, admitInput('job-a', 'key-1', 'fp-A'))).kind, 'admitted');
  // While the first run goes on, the same request is told so (409), never run twice.
  assert.deepEqual(await admit(t, admitInput('job-b', 'key-1', 'fp-A')), {
    kind: 'in_flight',
    job_id: 'job-a',
  });
  const first = await record(t, 'job-a', 'key-1');
  assert.equal(first.kind, 'charged');
  const replay = await admit(t, admitInput('job-b', 'key-1', 'fp-A'));
  assert.equal(replay.kind, 'replay');
  assert.equal(replay.job_id, 'job-a');
  assert.equal(replay.charge?.amount_micros, (first as Charged).charge.amount_micros);
  // The billing bypass of issue 10: the same key with another body is refused, not answered free.
  assert.deepEqual(await admit(t, admitInput('job-c', 'key-1', 'fp-B')), {
    kind: 'key_reused',
    operation: 'segment',
  });
  // A run that was never admitted under the key cannot charge it.
  assert.deepEqual(await record(t, 'job-c', 'key-1'), { kind: 'superseded' });
  const usage = await w.ledger<Usage>({ op: 'usage', tenant: t, ...range });
  assert.deepEqual(
    usage.charges.map((c) => c.job_id),
    ['job-a'],
  );
});

test("a key crosses no operation: a job's key is refused for a one-shot and the other way round", async () => {
  const t = 't-cross';
  assert.equal((await admit(t, admitInput('job-1', 'shared', 'job-fp', 'job'))).kind, 'admitted');
  assert.deepEqual(await admit(t, admitInput('seg-1', 'shared', 'seg-fp', 'segment')), {
    kind: 'key_reused',
    operation: 'job',
  });
  assert.equal((await admit(t, admitInput('seg-2', 'other', 'seg-fp', 'segment'))).kind, 'admitted');
  assert.deepEqual(await admit(t, admitInput('job-2', 'other', 'job-fp', 'job')), {
    kind: 'key_reused',
    operation: 'segment',
  });
  // A job's replay finds its job even before it is charged (the job is its own record).
  assert.deepEqual(await admit(t, admitInput('job-3', 'shared', 'job-fp', 'job')), {
    kind: 'replay',
    job_id: 'job-1',
    charge: null,
  });
});

test('a one-shot key whose run failed uncharged is taken over by the retry, and only the retry can charge', async () => {
  const t = 't-takeover';
  assert.equal((await admit(t, admitInput('run-1', 'k', 'fp'))).kind, 'admitted');
  await w.ledger({ op: 'release', tenant: t, job_id: 'run-1' }); // failed: released, not charged
  assert.equal((await admit(t, admitInput('run-2', 'k', 'fp'))).kind, 'admitted');
  assert.deepEqual(await record(t, 'run-1', 'k'), { kind: 'superseded' });
  assert.equal((await record(t, 'run-2', 'k')).kind, 'charged');
  const usage = await w.ledger<Usage>({ op: 'usage', tenant: t, ...range });
  assert.deepEqual(
    usage.charges.map((c) => c.job_id),
    ['run-2'],
  );
});

test('a job deleted while its runner charges it: the ledger orders the cancel and the charge, one wins', async () => {
  const t = 't-cancel';
  const cancel = (job: string, now = Date.now()) =>
    w.ledger<{ kind: string; charge?: Charge }>({
      op: 'cancel',
      tenant: t,
      job_id: job,
      now,
      expires_at: now + 60_000,
    });
  // The delete first: the job's slot goes, and its runner's charge is refused, also on a retry.
  assert.equal((await admit(t, admitInput('job-1', 'k1', 'fp', 'job'))).kind, 'admitted');
  assert.deepEqual(await cancel('job-1'), { kind: 'cancelled' });
  assert.deepEqual(await record(t, 'job-1', 'k1'), { kind: 'cancelled' });
  assert.deepEqual(await record(t, 'job-1', 'k1'), { kind: 'cancelled' });
  assert.equal(await w.ledger<boolean>({ op: 'isRunning', tenant: t, job_id: 'job-1' }), false);
  // The charge first: the delete finds it, with the charge, and cancels nothing; the charge stands, once.
  assert.equal((await admit(t, admitInput('job-2', 'k2', 'fp', 'job'))).kind, 'admitted');
  const first = await record(t, 'job-2', 'k2');
  assert.ok(first.kind === 'charged');
  const found = await cancel('job-2');
  assert.deepEqual(found, { kind: 'charged', charge: first.charge });
  const again = await record(t, 'job-2', 'k2');
  assert.ok(again.kind === 'charged' && again.duplicate);
  // A mark past its time is dropped by the next cancel, so marks do not pile up.
  assert.equal((await cancel('job-3', Date.now() - 120_000)).kind, 'cancelled');
  assert.equal((await cancel('job-4')).kind, 'cancelled');
  assert.equal((await record(t, 'job-3', null)).kind, 'charged');
  const usage = await w.ledger<Usage>({ op: 'usage', tenant: t, ...range });
  assert.deepEqual(
    usage.charges.map((c) => c.job_id),
    ['job-2', 'job-3'],
  );
});

test('an admission undone afterwards (its job could not be created) is abandoned: its key is free, not a replay of nothing', async () => {
  const t = 't-abandon';
  const abandon = (job: string) =>
    w.ledger({ op: 'abandon', tenant: t, job_id: job, now: Date.now(), mark_until: Date.now() + 60_000 });
  assert.equal((await admit(t, admitInput('job-1', 'k', 'fp', 'job'))).kind, 'admitted');
  await abandon('job-1');
  assert.equal(await w.ledger<boolean>({ op: 'isRunning', tenant: t, job_id: 'job-1' }), false);
  assert.equal((await admit(t, admitInput('job-2', 'k', 'fp', 'job'))).kind, 'admitted');
  assert.deepEqual(await admit(t, admitInput('job-3', 'k', 'fp', 'job')), {
    kind: 'replay',
    job_id: 'job-2',
    charge: null,
  });
  // A creation can fail after its write landed: the runner it left behind runs, and is never charged.
  assert.deepEqual(await record(t, 'job-1', 'k'), { kind: 'cancelled' });
  // A keyless admission abandoned the same way.
  assert.equal((await admit(t, admitInput('job-4', null, ''))).kind, 'admitted');
  await abandon('job-4');
  assert.deepEqual(await record(t, 'job-4', null), { kind: 'cancelled' });
  let usage = await w.ledger<Usage>({ op: 'usage', tenant: t, ...range });
  assert.deepEqual(usage.charges, []);
  // A job charged before its creation's error arrived keeps its key and its one charge.
  assert.equal((await admit(t, admitInput('job-5', 'k5', 'fp', 'job'))).kind, 'admitted');
  assert.ok((await record(t, 'job-5', 'k5')).kind === 'charged');
  await abandon('job-5');
  const again = await record(t, 'job-5', 'k5');
  assert.ok(again.kind === 'charged' && again.duplicate);
  assert.equal((await admit(t, admitInput('job-6', 'k5', 'fp', 'job'))).kind, 'replay');
  usage = await w.ledger<Usage>({ op: 'usage', tenant: t, ...range });
  assert.deepEqual(
    usage.charges.map((c) => c.job_id),
    ['job-5'],
  );
});

test("a key's binding is found before admission: a job whatever its state, a one-shot once charged", async () => {
  const t = 't-replay-of';
  const replayOf = (key: string, fingerprint: string) =>
    w.ledger<{ job_id: string; charge: { job_id: string } | null } | null>({
      op: 'replayOf',
      tenant: t,
      key,
      fingerprint,
    });
  assert.equal(await replayOf('kj', 'fp'), null);
  assert.equal((await admit(t, admitInput('job-1', 'kj', 'fp', 'job'))).kind, 'admitted');
  assert.deepEqual(await replayOf('kj', 'fp'), { job_id: 'job-1', charge: null });
  assert.equal(await replayOf('kj', 'other'), null, 'another request: admission refuses it');
  assert.equal((await admit(t, admitInput('shot-1', 'ks', 'fp', 'segment'))).kind, 'admitted');
  assert.equal(await replayOf('ks', 'fp'), null, 'a one-shot still running: admission answers 409');
  const charged = await record(t, 'shot-1', 'ks');
  assert.ok(charged.kind === 'charged');
  assert.deepEqual(await replayOf('ks', 'fp'), { job_id: 'shot-1', charge: charged.charge });
});

test('admission bounds run slots and the tenant in-flight evaluations; an expired slot is taken back', async () => {
  const t = 't-slots';
  const at = (job: string, evaluations: number, expires = Date.now() + 60_000) => ({
    ...admitInput(job, null, ''),
    evaluations,
    limit: 2,
    max_evaluations: 100,
    expires_at: expires,
  });
  assert.equal((await admit(t, at('a', 60))).kind, 'admitted');
  assert.deepEqual(await admit(t, at('b', 50)), { kind: 'work_busy', active_evaluations: 60 });
  assert.equal((await admit(t, at('c', 40))).kind, 'admitted');
  assert.deepEqual(await admit(t, at('d', 1)), { kind: 'busy', active: 2 });
  await w.ledger({ op: 'release', tenant: t, job_id: 'a' });
  assert.equal((await admit(t, at('e', 1, Date.now() - 1))).kind, 'admitted');
  // 'e' expired at once: its slot does not count for the next request.
  assert.equal((await admit(t, at('f', 60))).kind, 'admitted');
});

test('200 jobs at concurrency 20 with retried records: the ledger equals the jobs exactly', async () => {
  const jobs = Array.from({ length: 200 }, (_, i) => ({ id: `bulk-${i}`, voxels: 1000 + i * 7919 }));
  let next = 0;
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      const input = { ...charge(job.id, null), voxels: job.voxels };
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

test('the budget holds every running request at its most possible charge: concurrent admissions cannot pass it', async () => {
  const t = 't-budget';
  const now = Date.UTC(2026, 10, 15);
  const oneCharge = expectedMicros(voxels);
  await w.ledger({ op: 'record', tenant: t, input: charge('old', null, Date.UTC(2026, 9, 31, 23, 59)) });
  await w.ledger({ op: 'record', tenant: t, input: charge('this', null, now) });
  // Room for two more charges this month, not three; last month's charge does not count.
  await w.ledger({ op: 'setBudget', tenant: t, micros: 3 * oneCharge + 10 });
  const at = (job: string) => ({ ...admitInput(job, null, ''), now, reserve_micros: oneCharge });
  assert.equal((await admit(t, at('a'))).kind, 'admitted');
  assert.equal((await admit(t, at('b'))).kind, 'admitted');
  // It would fit were the two not running: held, a 429 to retry, not a 402.
  assert.deepEqual(await admit(t, at('c')), {
    kind: 'budget_held',
    budget_micros: 3 * oneCharge + 10,
    spent_micros: oneCharge,
    reserved_micros: 2 * oneCharge,
  });
  // Had 'a' and 'b' known shapes, they would be charged what they hold: no retry could fit, 402.
  await w.ledger({ op: 'release', tenant: t, job_id: 'a' });
  await w.ledger({ op: 'release', tenant: t, job_id: 'b' });
  assert.equal((await admit(t, { ...at('a'), reserve_exact: true })).kind, 'admitted');
  assert.equal((await admit(t, { ...at('b'), reserve_exact: true })).kind, 'admitted');
  assert.equal((await admit(t, at('c'))).kind, 'over_budget');
  await w.ledger({ op: 'release', tenant: t, job_id: 'b' });
  assert.equal((await admit(t, at('b'))).kind, 'admitted', 'the same, held inexactly');
  // It would not fit even with nothing running: over the budget, 402.
  assert.equal((await admit(t, { ...at('big'), reserve_micros: 2 * oneCharge + 11 })).kind, 'over_budget');
  // 'a' is charged what it held: its reservation becomes spending, nothing frees up.
  await w.ledger({ op: 'record', tenant: t, input: charge('a', null, now) });
  assert.equal((await admit(t, at('c'))).kind, 'budget_held');
  // 'b' ends without a charge (it failed): what it held goes back.
  await w.ledger({ op: 'release', tenant: t, job_id: 'b' });
  assert.equal((await admit(t, at('c'))).kind, 'admitted');
  // A replay is answered whatever the budget says: it costs nothing.
  await w.ledger({ op: 'setBudget', tenant: t, micros: 0 });
  assert.equal((await admit(t, { ...at('d'), idempotency_key: 'kb', fingerprint: 'f' })).kind, 'over_budget');
  await w.ledger({ op: 'setBudget', tenant: t, micros: null });
  assert.equal(
    (await admit(t, { ...at('d'), idempotency_key: 'kb', fingerprint: 'f', operation: 'job' })).kind,
    'admitted',
  );
  await w.ledger({ op: 'setBudget', tenant: t, micros: 0 });
  assert.equal(
    (await admit(t, { ...at('e'), idempotency_key: 'kb', fingerprint: 'f', operation: 'job' })).kind,
    'replay',
  );
  await w.ledger({ op: 'setBudget', tenant: t, micros: null });
});

test('concurrent admissions against a budget: exactly as many as it holds are admitted', async () => {
  const t = 't-budget-burst';
  await w.ledger({ op: 'setBudget', tenant: t, micros: 3 * 1000 });
  assert.equal((await admit(t, { ...admitInput('first', null, ''), reserve_micros: 1000 })).kind, 'admitted');
  // Eight more at once: the ledger serialises them, two fit.
  const many = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      admit(t, { ...admitInput(`burst-${i}`, null, ''), reserve_micros: 1000 }),
    ),
  );
  assert.equal(many.filter((r) => r.kind === 'admitted').length, 2, JSON.stringify(many));
  assert.equal(many.filter((r) => r.kind === 'budget_held').length, 6);
});

test('GET /v1/usage as CSV: keys that start like a formula (= + - @ tab CR) get a leading quote', async () => {
  const at = Date.now();
  const keys = ['=HYPERLINK("http://x","y")', '+1', '-1+2', '@SUM(A1)', '\tx', '\r=1', 'ok=1'];
  const tenant = { authorization: `Bearer ${await w.key('csv-formulas')}` };
  for (const [i, key] of keys.entries()) {
    await admit('csv-formulas', admitInput(`job-f${i}`, key, `fp-${i}`));
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
  await admit('acme', admitInput('job-x', 'k,"quoted"', 'fp-x'));
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
  assert.equal(
    lines[0],
    'job_id,idempotency_key,model,voxels,amount_micros,currency,charged_at,label,model_version',
  );
  // A charge recorded without a version (as callers from before versions record it): empty cell.
  assert.equal(
    lines[1],
    `job-x,"k,""quoted""",nnsam-tinyvit-random,${voxels},${expectedMicros(voxels)},USD,${new Date(at).toISOString()},,`,
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
  // Times to the minute, as the query was read before (a review found them refused for a while).
  const minutes = await w.fetch(`/v1/usage?from=${day(at)}T00:00Z&to=${day(at + 86_400_000)}T00:00Z`, {
    headers: acme,
  });
  assert.equal(((await minutes.json()) as Usage).charges.length, 2);
  await expectProblem(
    await w.fetch('/v1/usage?from=2026-02-01&to=2026-01-01', { headers: acme }),
    400,
    'invalid_request',
    doc,
    'get /v1/usage',
  );
  for (const bad of ['yesterday', '2026-02-31', '2026-11-01T24:30:00Z']) {
    await expectProblem(
      await w.fetch(`/v1/usage?from=${bad}`, { headers: acme }),
      400,
      'invalid_request',
      doc,
      'get /v1/usage',
    );
  }

  const globex = await w.fetch('/v1/usage', {
    headers: { authorization: `Bearer ${await w.key('globex')}` },
  });
  assert.deepEqual(
    ((await globex.json()) as Usage).charges,
    [],
    "another tenant sees none of acme's charges",
  );
});
