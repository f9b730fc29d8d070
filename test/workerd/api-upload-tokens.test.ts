// Upload tokens, the browser's credential, attacked the way a page's visitor could: a token cannot
// mint tokens, read usage, segment one-shot or revoke; outside its models, past its byte limit
// (summed over several uploads) or its job limit it is refused; it sees only its own uploads and
// jobs; revoked or expired it is refused at once; it never reaches the logs. Its jobs are charged
// to the tenant once each, with its label, on a real `nnsam serve` node.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NnsamClient, type ApiUploadTokenMinted } from '../../engine/client/index.js';
import { conforms, expectProblem, openApiDoc, type OpenApiDoc } from './api-checks.js';
import { startApi, type ApiWorld } from './api-world.js';
import { startNode, type InferenceNode } from './inference-nodes.js';
import { priceOf, PRICES, SLICE } from './job-fixtures.js';
import { jobClient, type Job } from './job-client.js';
import { readImage } from '../../engine/io/index.js';
import { readFileSync } from 'node:fs';
import { REPO_ROOT } from '../support/goldens.js';

let w: ApiWorld;
let node: InferenceNode;
let doc: OpenApiDoc;
let key: string;
let logs = '';
let shortLived: ApiUploadTokenMinted;
const minted: string[] = [];
const POST_JOBS = 'post /v1/jobs';

const clientOf = (apiKey: string) =>
  new NnsamClient({
    baseUrl: 'http://localhost',
    apiKey,
    fetch: (url, init) => w.mf.dispatchFetch(url, init as never) as unknown as Promise<Response>,
  });

async function mint(body: Parameters<NnsamClient['createUploadToken']>[0], by = key) {
  const token = await clientOf(by).createUploadToken(body);
  minted.push(token.token);
  return token;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
/** A tus creation request (no body) declaring `length` bytes. */
const declare = (token: string, length: number) =>
  w.fetch('/v1/uploads', {
    method: 'POST',
    headers: { ...bearer(token), 'tus-resumable': '1.0.0', 'upload-length': String(length) },
  });

before(async () => {
  node = await startNode(['--queue', '16']);
  w = await startApi('upload-tokens', {
    vars: { INFERENCE_NODES: node.url, DEFAULT_PRICES: JSON.stringify(PRICES), MAX_CONCURRENT_JOBS: '8' },
    onStdio: (text) => (logs += text),
  });
  doc = await openApiDoc(w);
  key = await w.key('acme');
  // Minted first so that its minute has run out by the last test.
  shortLived = await mint({ models: ['brain-wm-2d'], max_bytes: 1000, max_jobs: 1, expires_in_minutes: 1 });
  assert.equal((await declare(shortLived.token, 10)).status, 201, 'it works while it lives');
});

after(async () => {
  await w?.dispose();
  await node?.kill();
});

test('minting needs an API key with uploads and jobs; a token cannot mint, read usage, segment or revoke', async () => {
  const uploadsOnly = await w.key('acme', ['uploads']);
  const body = { models: ['brain-wm-2d'], max_bytes: 10, max_jobs: 1 };
  const post = (auth: string, b: unknown) =>
    w.fetch('/v1/upload-tokens', {
      method: 'POST',
      headers: { ...bearer(auth), 'content-type': 'application/json' },
      body: JSON.stringify(b),
    });
  await expectProblem(
    await post(uploadsOnly, body),
    403,
    'insufficient_scope',
    doc,
    'post /v1/upload-tokens',
  );
  await expectProblem(
    await post(key, { ...body, models: ['no-such-model'] }),
    404,
    'model_not_found',
    doc,
    'post /v1/upload-tokens',
  );
  for (const bad of [
    { ...body, expires_in_minutes: 0 },
    { ...body, expires_in_minutes: 24 * 60 + 1 },
    { ...body, max_bytes: -1 },
    { ...body, max_bytes: 2 ** 60 },
    { ...body, models: [] },
    { ...body, label: 'line\nbreak' },
  ]) {
    await expectProblem(await post(key, bad), 400, 'invalid_request', doc, 'post /v1/upload-tokens');
  }

  const res = await post(key, { ...body, label: 'visit 1' });
  assert.equal(res.status, 201);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const token = (await res.json()) as ApiUploadTokenMinted;
  minted.push(token.token);
  conforms(doc, token, 'UploadTokenMinted');
  assert.match(token.token, new RegExp(`^nut_${token.id}_[\\w-]{43}$`));
  const minutes = (Date.parse(token.expires_at) - Date.parse(token.created_at)) / 60_000;
  assert.equal(minutes, 60, 'an hour by default');

  const t = token.token;
  await expectProblem(await post(t, body), 403, 'insufficient_scope', doc, 'post /v1/upload-tokens');
  await expectProblem(
    await w.fetch('/v1/usage', { headers: bearer(t) }),
    403,
    'insufficient_scope',
    doc,
    'get /v1/usage',
  );
  await expectProblem(
    await w.fetch('/v1/segment?model=brain-wm-2d', {
      method: 'POST',
      headers: bearer(t),
      body: SLICE as unknown as BodyInit,
    }),
    403,
    'insufficient_scope',
    doc,
    'post /v1/segment',
  );
  await expectProblem(
    await w.fetch(`/v1/upload-tokens/${token.id}`, { method: 'DELETE', headers: bearer(t) }),
    403,
    'insufficient_scope',
    doc,
    'delete /v1/upload-tokens/{id}',
  );
  // A wrong secret for a real id, and a malformed token, are unknown.
  const wrong = t.slice(0, -1) + (t.endsWith('A') ? 'B' : 'A');
  for (const bad of [wrong, 'nut_x', `nut_${token.id}`]) {
    await expectProblem(await declare(bad, 1), 401, 'unauthorized', doc, 'post /v1/uploads');
  }
  assert.equal((await declare(t, 10)).status, 201);
});

test("a token's grant: models, bytes over several uploads, jobs; it sees only its own; charged once with its label", async () => {
  const grant = { models: ['brain-wm-2d'], max_bytes: 2 * SLICE.byteLength + 10, max_jobs: 2 };
  const one = await mint({ ...grant, label: 'visit-42' });
  const two = await mint(grant);
  const c1 = clientOf(one.token);
  const up1 = await c1.upload(SLICE as Uint8Array<ArrayBuffer>, { contentType: 'image/png' });
  const up2 = await c1.upload(SLICE as Uint8Array<ArrayBuffer>, { contentType: 'image/png' });
  assert.equal(up2.state, 'complete');
  // 2 x SLICE + 10 bytes: 10 more fit, 11 do not, however they are split.
  assert.equal((await declare(one.token, 10)).status, 201);
  await expectProblem(await declare(one.token, 1), 413, 'token_byte_limit', doc, 'post /v1/uploads');

  const jobs1 = jobClient(w, one.token);
  await expectProblem(
    await jobs1.create({ upload_id: up1.id, model: 'nnsam-tinyvit-random' }),
    403,
    'model_not_allowed',
    doc,
    POST_JOBS,
  );
  const body = { upload_id: up1.id, model: 'brain-wm-2d', options: { tta: false } };
  const first = await jobs1.create(body, 'k1');
  assert.equal(first.status, 202, await first.clone().text());
  const job1 = (await first.json()) as Job;
  const replay = await jobs1.create(body, 'k1');
  assert.equal(replay.status, 200, 'a replay is the first job, and does not count');
  const second = await jobs1.create({ ...body, upload_id: up2.id });
  assert.equal(second.status, 202, await second.clone().text());
  const job2 = (await second.json()) as Job;
  await expectProblem(await jobs1.create(body), 403, 'token_job_limit', doc, POST_JOBS);
  // A token that has created all its jobs still finds one whose answer it lost, by its key.
  const lost = await jobs1.create(body, 'k1');
  assert.equal(lost.status, 200, await lost.clone().text());
  assert.equal(((await lost.json()) as Job).id, job1.id);

  // The other token, and the tenant's key, against the first token's things.
  const jobs2 = jobClient(w, two.token);
  const c2 = bearer(two.token);
  for (const [res, op] of [
    [await jobs2.get(job1.id), 'get /v1/jobs/{id}'],
    [await jobs2.events(job1.id), 'get /v1/jobs/{id}/events'],
    [await jobs2.result(job1.id), 'get /v1/jobs/{id}/result'],
    [await jobs2.delete(job1.id), 'delete /v1/jobs/{id}'],
  ] as const) {
    await expectProblem(res, 404, 'job_not_found', doc, op);
  }
  for (const [res, op] of [
    [await w.fetch(`/v1/uploads/${up1.id}`, { headers: c2 }), 'get /v1/uploads/{id}'],
    [await w.fetch(`/v1/uploads/${up1.id}`, { method: 'DELETE', headers: c2 }), 'delete /v1/uploads/{id}'],
    [
      await w.fetch(`/v1/uploads/${up1.id}`, {
        method: 'PATCH',
        headers: { ...c2, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' },
        body: 'x',
      }),
      'patch /v1/uploads/{id}',
    ],
  ] as const) {
    await expectProblem(res, 404, 'upload_not_found', doc, op);
  }
  await expectProblem(await jobs2.create(body), 404, 'upload_not_found', doc, POST_JOBS);
  // Nor may a token run jobs on the tenant's other uploads.
  const keyUpload = await clientOf(key).upload(SLICE as Uint8Array<ArrayBuffer>, {
    contentType: 'image/png',
  });
  await expectProblem(
    await jobs1.create({ ...body, upload_id: keyUpload.id }),
    404,
    'upload_not_found',
    doc,
    POST_JOBS,
  );
  await expectProblem(
    await jobs2.create({ ...body, upload_id: keyUpload.id }),
    404,
    'upload_not_found',
    doc,
    POST_JOBS,
  );

  const done = await Promise.all([job1, job2].map((j) => jobs1.waitFinal(j.id)));
  assert.deepEqual(
    done.map((j) => j.status),
    ['succeeded', 'succeeded'],
  );
  assert.equal((await jobs1.result(job1.id)).status, 200, 'its own result');
  assert.equal((await jobClient(w, key).get(job1.id)).status, 200, "the tenant's key sees its jobs");

  const voxels = readImage(SLICE).shape.reduce((a, b) => a * b, 1);
  const usage = await clientOf(key).usage();
  const charged = usage.charges.filter((c) => c.job_id === job1.id || c.job_id === job2.id);
  assert.deepEqual(
    charged.map((c) => [c.label, c.amount_micros]).sort(),
    [
      ['visit-42', priceOf(voxels)],
      ['visit-42', priceOf(voxels)],
    ],
    'each job charged once, to the tenant, with the label',
  );
  assert.equal(usage.charges.length, 2, 'nothing else was charged');
  const csv = await clientOf(key).usageCsv();
  assert.match(
    csv,
    /^job_id,idempotency_key,model,voxels,amount_micros,currency,charged_at,label,model_version\r\n/,
  );
  // Charged by model id; the release that ran (the current one, for a plain id) beside it.
  const current = (
    JSON.parse(readFileSync(`${REPO_ROOT}models/brain-wm-2d/manifest.json`, 'utf8')) as {
      version: string;
    }
  ).version;
  // A token's key is bound, and reported, in the token's namespace (docs/billing.md).
  assert.match(
    csv,
    new RegExp(
      `${job1.id},token:${one.id}:k1,brain-wm-2d,.*,visit-42,${current.replace(/\./g, '\\.')}\\r\\n`,
    ),
  );
});

/** `token` is refused (401) on uploads and on jobs. */
async function refusedEverywhere(token: string): Promise<void> {
  await expectProblem(await declare(token, 1), 401, 'unauthorized', doc, 'post /v1/uploads');
  await expectProblem(
    await jobClient(w, token).get(crypto.randomUUID()),
    401,
    'unauthorized',
    doc,
    'get /v1/jobs/{id}',
  );
}

test('revocation holds at once; an expired token is refused; no token reaches the logs', async () => {
  const token = await mint({ models: ['brain-wm-2d'], max_bytes: 100, max_jobs: 1 });
  const created = await declare(token.token, 10);
  assert.equal(created.status, 201);
  const location = created.headers.get('location')!;
  const other = await w.key('globex');
  const revoke = (by: string, id = token.id) =>
    w.fetch(`/v1/upload-tokens/${id}`, { method: 'DELETE', headers: bearer(by) });
  const op = 'delete /v1/upload-tokens/{id}';
  await expectProblem(await revoke(other), 404, 'upload_token_not_found', doc, op);
  assert.equal(
    (await w.fetch(location, { headers: bearer(token.token) })).status,
    200,
    "another tenant's revoke did nothing",
  );
  assert.equal((await revoke(key)).status, 204);
  await expectProblem(
    await w.fetch(location, { headers: bearer(token.token) }),
    401,
    'unauthorized',
    doc,
    'get /v1/uploads/{id}',
  );
  await expectProblem(await declare(token.token, 1), 401, 'unauthorized', doc, 'post /v1/uploads');
  assert.equal((await revoke(key)).status, 204, 'revoking again changes nothing');
  await expectProblem(await revoke(key, 'ffffffffffffffff'), 404, 'upload_token_not_found', doc, op);
  assert.equal(
    (await w.fetch(location, { headers: bearer(key) })).status,
    200,
    "the upload stays the tenant's",
  );

  // A token lives only while the key that minted it does (found by review: revoking a leaked key
  // left its 24-hour tokens spending for the tenant, and the tenant could not list them).
  const minter = await w.key('acme');
  const child = await mint({ models: ['brain-wm-2d'], max_bytes: 100, max_jobs: 1 }, minter);
  assert.equal((await declare(child.token, 1)).status, 201);
  await w.revokeKey(minter);
  await refusedEverywhere(child.token);
  const sibling = await mint({ models: ['brain-wm-2d'], max_bytes: 100, max_jobs: 1 });
  assert.equal((await declare(sibling.token, 1)).status, 201, "another key's tokens live on");

  const wait = Date.parse(shortLived.expires_at) - Date.now() + 500;
  if (wait > 0) await sleep(wait);
  await refusedEverywhere(shortLived.token);

  await sleep(200); // workerd's stdout arrives asynchronously
  assert.ok(logs.includes('"msg":"request"'), 'the requests were logged');
  for (const t of minted) {
    for (const secret of [t, t.slice('nut_'.length + 16 + 1)]) {
      assert.ok(!logs.includes(secret), 'no upload token in the logs');
    }
  }
});
