// Upload expiry with a 1-second lifetime (UPLOAD_TTL_SECONDS): past it, the Durable Object's alarm has
// deleted the chunks from R2 and the upload answers 404, untouched in between.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { SHARED_DATA } from '../support/goldens.js';
import { expectProblem, openApiDoc, sha256Hex, uploadClient } from './api-checks.js';
import { startApi, type ApiWorld } from './api-world.js';

const FILE = new Uint8Array(readFileSync(`${SHARED_DATA}fixtures/mr-aniso/BrainT1Slice.png`));
let w: ApiWorld;

before(async () => {
  w = await startApi('expiry', { vars: { UPLOAD_TTL_SECONDS: '1' } });
});

after(async () => {
  await w?.dispose();
});

test('an upload past its expiry is gone: bytes deleted by the alarm, then 404', async () => {
  const doc = await openApiDoc(w);
  const client = uploadClient(w, await w.key('acme'));
  const created = await client.create({
    length: FILE.byteLength,
    content_type: 'image/png',
    sha256: sha256Hex(FILE),
  });
  assert.equal(created.status, 201);
  const up = (await created.json()) as { id: string; created_at: string; expires_at: string };
  assert.equal(Date.parse(up.expires_at) - Date.parse(up.created_at), 1000);
  const half = Math.floor(FILE.byteLength / 2);
  assert.equal((await client.patch(up.id, 0, FILE.subarray(0, half))).status, 204);

  const bucket = await w.mf.getR2Bucket('UPLOADS', 'api');
  const prefix = `uploads/acme/${up.id}/`;
  assert.equal((await bucket.list({ prefix })).objects.length, 1);
  const deadline = Date.now() + 10_000;
  while ((await bucket.list({ prefix })).objects.length > 0) {
    assert.ok(Date.now() < deadline, 'the expiry alarm deleted the chunk within 10 s');
    await sleep(100);
  }
  await expectProblem(await client.get(up.id), 404, 'upload_not_found', doc, 'get /v1/uploads/{id}');
  await expectProblem(
    await client.patch(up.id, half, FILE.subarray(half)),
    404,
    'upload_not_found',
    doc,
    'patch /v1/uploads/{id}',
  );
});
