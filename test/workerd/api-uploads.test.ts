// Resumable uploads in workerd (Durable Object + R2), on a real shared volume sent in 256 KiB chunks:
// interruption and resume, duplicate and out-of-order chunks, bad chunk and whole-file checksums,
// limits, deletion, and another tenant's view. Every error is checked against the OpenAPI document.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { SHARED_DATA } from '../support/goldens.js';
import {
  checksumHeader,
  expectProblem,
  openApiDoc,
  sha256Hex,
  uploadClient,
  type OpenApiDoc,
} from './api-checks.js';
import { startApi, type ApiWorld } from './api-world.js';

const CHUNK = 256 * 1024;
const FILE = new Uint8Array(readFileSync(`${SHARED_DATA}brain-wm/imagesTr/fsB_0000.nii.gz`));
const PATCH = 'patch /v1/uploads/{id}';
let w: ApiWorld;
let doc: OpenApiDoc;
let acme: ReturnType<typeof uploadClient>;

before(async () => {
  w = await startApi('uploads', {
    vars: {
      MAX_CHUNK_BYTES: String(CHUNK),
      MAX_UPLOAD_BYTES: String(4 * 2 ** 20),
      MAX_BODY_BYTES: String(2 ** 20),
    },
  });
  doc = await openApiDoc(w);
  acme = uploadClient(w, await w.key('acme'));
});

after(async () => {
  await w?.dispose();
});

const declare = { length: FILE.byteLength, content_type: 'application/gzip', sha256: sha256Hex(FILE) };

async function newUpload(client = acme, body: unknown = declare): Promise<string> {
  const res = await client.create(body);
  assert.equal(res.status, 201, await res.clone().text());
  const { id } = (await res.json()) as { id: string };
  assert.equal(res.headers.get('location'), `/v1/uploads/${id}`);
  return id;
}

async function offsetOf(id: string): Promise<number> {
  const res = await acme.head(id);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), '', 'HEAD has no body');
  assert.equal(res.headers.get('upload-length'), String(FILE.byteLength));
  return Number(res.headers.get('upload-offset'));
}

async function objectKeys(prefix: string): Promise<string[]> {
  const bucket = await w.mf.getR2Bucket('UPLOADS', 'api');
  return (await bucket.list({ prefix })).objects.map((o) => o.key);
}

const slice = (from: number, size = CHUNK) => FILE.subarray(from, Math.min(from + size, FILE.byteLength));

test('an interrupted upload resumes from HEAD, duplicates are idempotent, and it completes verified', async () => {
  const id = await newUpload();
  assert.equal(await offsetOf(id), 0);
  for (let at = 0; at < 3 * CHUNK; at += CHUNK)
    assert.equal((await acme.patch(id, at, slice(at))).status, 204);

  // The link drops mid-chunk: the body stream fails half-way, so nothing of that chunk is kept.
  const half = slice(3 * CHUNK).subarray(0, CHUNK / 2);
  const broken = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(half);
      controller.error(new Error('link dropped'));
    },
  });
  await assert.rejects(
    w.fetch(`/v1/uploads/${id}`, {
      method: 'PATCH',
      headers: {
        ...acme.auth,
        'content-type': 'application/offset+octet-stream',
        'upload-offset': String(3 * CHUNK),
        'upload-checksum': `sha256 ${Buffer.from(sha256Hex(slice(3 * CHUNK)), 'hex').toString('base64')}`,
      },
      body: broken,
      duplex: 'half',
    } as RequestInit),
  );
  const resumeAt = await offsetOf(id);
  assert.equal(resumeAt, 3 * CHUNK);

  // A retried chunk the server already has (its 204 was lost) is acknowledged without change.
  const dup = await acme.patch(id, 2 * CHUNK, slice(2 * CHUNK));
  assert.equal(dup.status, 204);
  assert.equal(dup.headers.get('upload-offset'), String(3 * CHUNK));

  // The rest in smaller chunks (the client may change its chunk size after an interruption).
  let last = resumeAt;
  for (let at = resumeAt; at < FILE.byteLength; at += CHUNK / 2) {
    last = at;
    const res = await acme.patch(id, at, slice(at, CHUNK / 2));
    assert.equal(res.status, 204, await res.text());
    assert.equal(res.headers.get('upload-offset'), String(Math.min(at + CHUNK / 2, FILE.byteLength)));
  }
  const done = (await (await acme.get(id)).json()) as { state: string; offset: number; expires_at: string };
  assert.equal(done.state, 'complete');
  assert.equal(done.offset, FILE.byteLength);
  assert.ok(Date.parse(done.expires_at) - Date.now() > 23 * 3600 * 1000, 'the default expiry is 24 h');

  // R2 holds the assembled file, byte for byte, and no chunk objects any more.
  const bucket = await w.mf.getR2Bucket('UPLOADS', 'api');
  const data = await bucket.get(`uploads/acme/${id}/data`);
  assert.ok(data);
  assert.equal(sha256Hex(new Uint8Array(await data.arrayBuffer())), declare.sha256);
  assert.deepEqual(await objectKeys(`uploads/acme/${id}/chunk/`), []);

  // The last chunk retried after completion is still a duplicate; a different one is a conflict.
  assert.equal((await acme.patch(id, last, FILE.subarray(last))).status, 204);
  await expectProblem(await acme.patch(id, 0, slice(0, 10)), 409, 'upload_offset_conflict', doc, PATCH);
});

test('a key revoked during one long PATCH stores no further piece: 401, what came before kept', async () => {
  // Found by review: the credential was checked once, so a leaked credential revoked mid-request
  // kept writing the upload to its declared end.
  const leaked = uploadClient(w, await w.key('acme'));
  const id = await newUpload(leaked);
  let feed!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (controller) => void (feed = controller) });
  const patched = w.fetch(`/v1/uploads/${id}`, {
    method: 'PATCH',
    headers: { ...leaked.auth, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' },
    body,
    duplex: 'half',
  } as RequestInit);
  feed.enqueue(slice(0));
  feed.enqueue(slice(CHUNK, 1));
  for (let i = 0; i < 200 && (await offsetOf(id)) < CHUNK; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(await offsetOf(id), CHUNK, 'the first piece is stored while the request goes on');
  await w.revokeKey(leaked.auth.authorization.slice('Bearer '.length));
  feed.enqueue(slice(CHUNK + 1, 3 * CHUNK));
  feed.close();
  await expectProblem(await patched, 401, 'unauthorized', doc, PATCH);
  assert.equal(await offsetOf(id), CHUNK, 'nothing after the revocation is stored');
});

test('out-of-order chunks get 409 with the current offset; a bad checksum drops the chunk', async () => {
  const id = await newUpload();
  assert.equal((await acme.patch(id, 0, slice(0))).status, 204);
  const ahead = await acme.patch(id, 2 * CHUNK, slice(2 * CHUNK));
  await expectProblem(ahead, 409, 'upload_offset_conflict', doc, PATCH);
  assert.equal(ahead.headers.get('upload-offset'), String(CHUNK));
  // Behind the offset but not a chunk we have: also a conflict, nothing changes.
  await expectProblem(await acme.patch(id, 100, slice(100)), 409, 'upload_offset_conflict', doc, PATCH);

  const corrupt = Uint8Array.from(slice(CHUNK));
  corrupt[1234] ^= 0xff;
  const bad = await acme.patch(
    id,
    CHUNK,
    corrupt,
    `sha256 ${Buffer.from(sha256Hex(slice(CHUNK)), 'hex').toString('base64')}`,
  );
  await expectProblem(bad, 460, 'chunk_checksum_mismatch', doc, PATCH);
  assert.equal(await offsetOf(id), CHUNK);
  assert.deepEqual(await objectKeys(`uploads/acme/${id}/chunk/`), [
    `uploads/acme/${id}/chunk/${'0'.repeat(16)}`,
  ]);
  // The same chunk sent five times at once (a client retrying on parallel connections): one is
  // stored, the others are acknowledged as duplicates, and the offset moves once.
  const racing = await Promise.all(Array.from({ length: 5 }, () => acme.patch(id, CHUNK, slice(CHUNK))));
  assert.deepEqual(
    racing.map((r) => [r.status, r.headers.get('upload-offset')]),
    Array(5).fill([204, String(2 * CHUNK)]),
  );
  assert.equal(await offsetOf(id), 2 * CHUNK);
  assert.equal((await objectKeys(`uploads/acme/${id}/chunk/`)).length, 2);
});

test('a complete file that does not match the declared SHA-256 is refused and deleted', async () => {
  const other = sha256Hex(Buffer.from('not this file'));
  const id = await newUpload(acme, { ...declare, sha256: other });
  let res: Response | undefined;
  for (let at = 0; at < FILE.byteLength; at += CHUNK) res = await acme.patch(id, at, slice(at));
  await expectProblem(res!, 422, 'upload_checksum_mismatch', doc, PATCH);
  await expectProblem(await acme.get(id), 404, 'upload_not_found', doc, 'get /v1/uploads/{id}');
  assert.deepEqual(await objectKeys(`uploads/acme/${id}/`), []);
});

test('limits: upload, chunk and body sizes each answer their problem type; bad requests are 4xx', async () => {
  await expectProblem(
    await acme.create({ ...declare, length: 4 * 2 ** 20 + 1 }),
    413,
    'upload_too_large',
    doc,
    'post /v1/uploads',
  );
  const id = await newUpload();
  await expectProblem(await acme.patch(id, 0, slice(0, CHUNK + 1)), 413, 'chunk_too_large', doc, PATCH);
  // Streamed without a Content-Length, the cap is enforced while reading.
  const streamed = await w.fetch(`/v1/uploads/${id}`, {
    method: 'PATCH',
    headers: {
      ...acme.auth,
      'content-type': 'application/offset+octet-stream',
      'upload-offset': '0',
      'upload-checksum': checksumHeader(slice(0)),
    },
    body: new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at <= CHUNK; at += 65536) controller.enqueue(slice(at, 65536));
        controller.close();
      },
    }),
    duplex: 'half',
  } as RequestInit);
  await expectProblem(streamed, 413, 'chunk_too_large', doc, PATCH);
  const key = await w.key('acme');
  const big = await w.fetch('/v1/uploads', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...declare, pad: 'x'.repeat(2 ** 20) }),
  });
  await expectProblem(big, 413, 'body_too_large', doc, 'post /v1/uploads');
  await expectProblem(
    await acme.create({ ...declare, sha256: 'nope' }),
    400,
    'invalid_request',
    doc,
    'post /v1/uploads',
  );
  const plain = await w.fetch(`/v1/uploads/${id}`, {
    method: 'PATCH',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'text/plain',
      'upload-offset': '0',
      'upload-checksum': 'sha256 x',
    },
    body: 'abc',
  });
  await expectProblem(plain, 415, 'unsupported_media_type', doc, PATCH);
  const malformed = await w.fetch('/v1/uploads', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: '{"length": 3,',
  });
  await expectProblem(malformed, 400, 'invalid_request', doc, 'post /v1/uploads');
  await expectProblem(
    await acme.patch(id, 0, slice(0), 'md5 abc'),
    400,
    'checksum_algorithm_unsupported',
    doc,
    PATCH,
  );
  await expectProblem(await acme.patch(id, 0, slice(0), 'sha256 abc'), 400, 'invalid_request', doc, PATCH);
  const tail = FILE.subarray(0, 10);
  assert.equal((await acme.patch(id, 0, slice(0))).status, 204);
  const small = await newUpload(acme, {
    length: 5,
    content_type: 'text/plain',
    sha256: sha256Hex(tail.subarray(0, 5)),
  });
  await expectProblem(await acme.patch(small, 0, tail), 422, 'chunk_beyond_length', doc, PATCH);
  assert.equal(await offsetOf(id), CHUNK, 'refusals change nothing');
});

test('DELETE removes the upload and its bytes; another tenant sees 404 and cannot touch it', async () => {
  const id = await newUpload();
  assert.equal((await acme.patch(id, 0, slice(0))).status, 204);
  const globex = uploadClient(w, await w.key('globex'));
  await expectProblem(await globex.get(id), 404, 'upload_not_found', doc, 'get /v1/uploads/{id}');
  await expectProblem(await globex.patch(id, CHUNK, slice(CHUNK)), 404, 'upload_not_found', doc, PATCH);
  await expectProblem(await globex.delete(id), 404, 'upload_not_found', doc, 'delete /v1/uploads/{id}');
  assert.equal(await offsetOf(id), CHUNK, "the other tenant's calls changed nothing");

  assert.equal((await acme.delete(id)).status, 204);
  await expectProblem(await acme.get(id), 404, 'upload_not_found', doc, 'get /v1/uploads/{id}');
  await expectProblem(await acme.delete(id), 404, 'upload_not_found', doc, 'delete /v1/uploads/{id}');
  assert.deepEqual(await objectKeys(`uploads/acme/${id}/`), []);
});
