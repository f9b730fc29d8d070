// The typed client (engine/client) against the API in workerd and its OpenAPI document: it covers
// every non-health operation, its types have exactly the documented fields, and its resumable upload
// survives a reset connection, a lost response and a chunk corrupted in transit on a real volume.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { ApiProblemError, CLIENT_OPERATIONS, NnsamClient } from '../../engine/client/index.js';
import { SHARED_DATA } from '../support/goldens.js';
import { conforms as conformsTo, openApiDoc, type OpenApiDoc } from './api-checks.js';
import { startApi, type ApiWorld } from './api-world.js';

const FILE = new Uint8Array(readFileSync(`${SHARED_DATA}brain-wm/imagesTr/fsA_0000.nii.gz`));
const CHUNK = 200_000;
let w: ApiWorld;
let doc: OpenApiDoc;

before(async () => {
  w = await startApi('client', { ledgerHarness: true, vars: { MAX_CHUNK_BYTES: String(256 * 1024) } });
  doc = await openApiDoc(w);
});

after(async () => {
  await w?.dispose();
});

const dispatch = (url: string, init: RequestInit) =>
  w.mf.dispatchFetch(url, init as never) as unknown as Promise<Response>;

const conforms = (value: object, name: string) => conformsTo(doc, value, name);

test('the client calls every documented operation but health, and nothing undocumented', () => {
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => `${m} ${path}`),
  );
  const health = ['get /healthz', 'get /v1/version'];
  assert.deepEqual([...CLIENT_OPERATIONS].sort(), documented.filter((op) => !health.includes(op)).sort());
});

test('a resumable upload through the client survives a reset, a lost response and a corrupted chunk', async () => {
  let patches = 0;
  let serverPatches = 0;
  const flaky = async (url: string, init: RequestInit): Promise<Response> => {
    if (init.method !== 'PATCH') return dispatch(url, init);
    patches++;
    if (patches === 2) throw new TypeError('fetch failed: connection reset before sending');
    serverPatches++;
    if (patches === 4) {
      await dispatch(url, init);
      throw new TypeError('fetch failed: the response was lost');
    }
    if (patches === 6) {
      const corrupted = Uint8Array.from(init.body as Uint8Array);
      corrupted[17] ^= 0x40;
      return dispatch(url, { ...init, body: corrupted });
    }
    return dispatch(url, init);
  };
  const client = new NnsamClient({ baseUrl: 'http://localhost', apiKey: await w.key('acme'), fetch: flaky });
  const upload = await client.upload(FILE, { contentType: 'application/gzip', chunkBytes: CHUNK });
  conforms(upload, 'Upload');
  assert.equal(upload.state, 'complete');
  assert.equal(upload.offset, FILE.byteLength);
  const chunks = Math.ceil(FILE.byteLength / CHUNK);
  // Every chunk once plus the corrupted one: after the lost response, HEAD showed the chunk had
  // arrived, so the client went on without sending it again.
  assert.equal(serverPatches, chunks + 1);
  assert.equal(patches, chunks + 2);
  const data = await (await w.mf.getR2Bucket('UPLOADS', 'api')).get(`uploads/acme/${upload.id}/data`);
  assert.ok(data);
  const stored = new Uint8Array(await data.arrayBuffer());
  assert.equal(createHash('sha256').update(stored).digest('hex'), upload.sha256);
  assert.deepEqual(await client.uploadStatus(upload.id), upload);
  await client.deleteUpload(upload.id);
  await assert.rejects(client.uploadOffset(upload.id), (err: ApiProblemError) => err.problem.status === 404);
});

test('models, usage and errors through the client match the document', async () => {
  const client = new NnsamClient({
    baseUrl: 'http://localhost',
    apiKey: await w.key('acme'),
    fetch: dispatch,
  });
  const models = await client.models();
  assert.ok(models.length >= 1);
  for (const m of models) conforms(m, 'Model');
  await w.ledger({
    op: 'record',
    tenant: 'acme',
    input: {
      job_id: 'client-job',
      idempotency_key: null,
      model: models[0].id,
      voxels: 65_536,
      price: { currency: 'USD', base_micros: 100, per_megavoxel_micros: 1_000_000 },
      at: Date.now(),
    },
  });
  const usage = await client.usage();
  conforms(usage, 'Usage');
  assert.equal(usage.charges.length, 1);
  conforms(usage.charges[0], 'Charge');
  assert.equal(usage.charges[0].amount_micros, 100 + 65_536);
  assert.match(await client.usageCsv(), /^job_id,.*\r\nclient-job,,/);

  const stranger = new NnsamClient({ baseUrl: 'http://localhost', apiKey: 'nsk_nope', fetch: dispatch });
  await assert.rejects(stranger.usage(), (err: ApiProblemError) => {
    assert.equal(err.code, 'unauthorized');
    assert.equal(err.problem.status, 401);
    return true;
  });
  await assert.rejects(
    client.createUpload({ length: 10, content_type: 'text/plain', sha256: 'short' }),
    (err: ApiProblemError) => err.code === 'invalid_request',
  );
});
