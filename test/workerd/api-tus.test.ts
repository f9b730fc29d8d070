// /v1/uploads as a tus 1.0.0 server, spoken to by tus-js-client 4 (the standard client; Uppy uses
// it) against the Worker in workerd on a real listening port: discovery and version negotiation,
// fsB sent with a duplicated chunk, a cut connection resumed from the stored upload URL, a chunk
// with a wrong checksum; then a job on the tus upload gives the one-shot's label map for the same
// file, from a real `nnsam serve` node.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Upload, type DetailedError, type UploadOptions } from 'tus-js-client';
import { sha256Hex } from './api-checks.js';
import { startApi, type ApiWorld } from './api-world.js';
import { startNode, type InferenceNode } from './inference-nodes.js';
import { FSB, labelsOfNiftiGz, PRICES } from './job-fixtures.js';
import { jobClient } from './job-client.js';
import { meddlingStack, type Meddling } from './tus-stack.js';

const CHUNK = 256 * 1024;
const FILE = Buffer.from(FSB);
let w: ApiWorld;
let node: InferenceNode;
let base: string;
let key: string;

before(async () => {
  node = await startNode(['--queue', '16']);
  w = await startApi('tus', {
    vars: {
      INFERENCE_NODES: node.url,
      DEFAULT_PRICES: JSON.stringify(PRICES),
      MAX_CHUNK_BYTES: String(CHUNK),
      MAX_BODY_BYTES: String(4 * 2 ** 20),
      // fsB whole, with TTA, on a loaded 2-core machine: minutes, not the default two.
      ONE_SHOT_SECONDS: '900',
    },
  });
  base = (await w.mf.ready).origin;
  key = await w.key('acme');
});

after(async () => {
  await w?.dispose();
  await node?.kill();
});

/** tus-js-client options for fsB, with its SHA-256 declared in the metadata. */
function options(m: Meddling, extra: UploadOptions = {}) {
  const { stack, patches } = meddlingStack(m);
  const opts: UploadOptions = {
    endpoint: `${base}/v1/uploads`,
    headers: { authorization: `Bearer ${key}` },
    metadata: { filename: 'fsB_0000.nii.gz', filetype: 'application/gzip', sha256: sha256Hex(FILE) },
    chunkSize: CHUNK,
    retryDelays: [0, 50, 100],
    httpStack: stack,
    ...extra,
  };
  return { opts, patches };
}

/** Runs an upload to its end: the upload URL, or the error tus-js-client gave up with. */
function run(upload: Upload): Promise<string> {
  return new Promise((resolve, reject) => {
    upload.options.onSuccess = () => resolve(upload.url!);
    upload.options.onError = reject;
    upload.start();
  });
}

const auth = () => ({ authorization: `Bearer ${key}`, 'tus-resumable': '1.0.0' });
const head = (url: string) => fetch(url, { method: 'HEAD', headers: auth() });

/** The upload's JSON view, and that R2 holds exactly fsB for it. */
async function expectComplete(url: string): Promise<{ id: string; sha256: string }> {
  const res = await fetch(url, { headers: auth() });
  const upload = (await res.json()) as { id: string; state: string; offset: number; sha256: string };
  assert.equal(upload.state, 'complete');
  assert.equal(upload.offset, FILE.byteLength);
  assert.equal(upload.sha256, sha256Hex(FILE));
  const data = await (await w.mf.getR2Bucket('UPLOADS', 'api')).get(`uploads/acme/${upload.id}/data`);
  assert.ok(data);
  assert.equal(sha256Hex(new Uint8Array(await data.arrayBuffer())), sha256Hex(FILE), 'R2 holds fsB');
  return upload;
}

let tusUploadId = '';

test('discovery (OPTIONS), Tus-Resumable on every answer, 412 for another version', async () => {
  const options = await fetch(`${base}/v1/uploads`, { method: 'OPTIONS' });
  assert.equal(options.status, 204);
  assert.equal(options.headers.get('tus-version'), '1.0.0');
  assert.deepEqual(options.headers.get('tus-extension')?.split(','), [
    'creation',
    'creation-with-upload',
    'termination',
    'checksum',
    'expiration',
  ]);
  assert.equal(options.headers.get('tus-max-size'), String(2 * 2 ** 30));
  assert.equal(options.headers.get('tus-checksum-algorithm'), 'sha256');

  const old = await fetch(`${base}/v1/uploads`, {
    method: 'POST',
    headers: { ...auth(), 'tus-resumable': '0.2.2', 'upload-length': '10' },
  });
  assert.equal(old.status, 412);
  assert.equal(old.headers.get('tus-version'), '1.0.0');
  assert.equal(old.headers.get('content-type'), 'application/problem+json');

  const created = await fetch(`${base}/v1/uploads`, {
    method: 'POST',
    headers: {
      ...auth(),
      'upload-length': '5',
      'upload-metadata': `content_type ${btoa('text/plain')},empty`,
    },
  });
  assert.equal(created.status, 201, await created.clone().text());
  const location = new URL(created.headers.get('location')!, base).href;
  assert.ok(created.headers.get('upload-expires'));
  for (const res of [
    created,
    old,
    await head(location),
    await fetch(`${base}/v1/uploads/${crypto.randomUUID()}`, { method: 'HEAD', headers: auth() }),
    await fetch(location, {
      method: 'PATCH',
      headers: { ...auth(), 'content-type': 'application/offset+octet-stream', 'upload-offset': '3' },
      body: 'abc',
    }),
    await fetch(`${base}/v1/uploads`, { method: 'POST', headers: { 'tus-resumable': '1.0.0' } }),
  ]) {
    assert.equal(res.headers.get('tus-resumable'), '1.0.0', `${res.status} ${res.url}`);
  }
  const described = await head(location);
  assert.equal(described.headers.get('upload-offset'), '0');
  assert.equal(described.headers.get('upload-metadata'), `content_type ${btoa('text/plain')},empty`);
  assert.equal(described.headers.get('cache-control'), 'no-store');
  const bad = await fetch(`${base}/v1/uploads`, {
    method: 'POST',
    headers: { ...auth(), 'upload-length': '5', 'upload-metadata': 'sha256 !!!' },
  });
  assert.equal(bad.status, 400);
  const deferred = await fetch(`${base}/v1/uploads`, {
    method: 'POST',
    headers: { ...auth(), 'upload-defer-length': '1' },
  });
  assert.equal(deferred.status, 400);
  // creation-with-upload: the first bytes ride on the POST; refused ones leave the upload at 0.
  const hello = new TextEncoder().encode('hello');
  const withData = (checksum: string) =>
    fetch(`${base}/v1/uploads`, {
      method: 'POST',
      headers: {
        ...auth(),
        'upload-length': '5',
        'upload-metadata': `sha256 ${btoa(sha256Hex(hello))}`,
        'content-type': 'application/offset+octet-stream',
        'upload-checksum': checksum,
      },
      body: hello,
    });
  const whole = await withData(`sha256 ${Buffer.from(sha256Hex(hello), 'hex').toString('base64')}`);
  assert.equal(whole.status, 201);
  assert.equal(whole.headers.get('upload-offset'), '5');
  assert.equal(((await whole.json()) as { state: string }).state, 'complete');
  const spoiled = await withData(
    `sha256 ${Buffer.from(sha256Hex(hello.subarray(1)), 'hex').toString('base64')}`,
  );
  assert.equal(spoiled.status, 201);
  assert.equal(spoiled.headers.get('upload-offset'), '0');

  const terminated = await fetch(location, { method: 'DELETE', headers: auth() });
  assert.equal(terminated.status, 204);
  assert.equal(terminated.headers.get('tus-resumable'), '1.0.0');
  assert.equal((await head(location)).status, 404);
});

test('tus-js-client uploads fsB with checksums; a duplicated chunk is acknowledged without change', async () => {
  const { opts, patches } = options({ duplicate: 3 });
  const url = await run(new Upload(FILE, opts));
  const chunks = Math.ceil(FILE.byteLength / CHUNK);
  assert.equal(patches.length, chunks + 1, 'every chunk once, the third twice');
  assert.deepEqual(patches[2], patches[3], 'the duplicate got the same answer as the original');
  assert.deepEqual(
    patches.map((p) => p.status),
    Array(chunks + 1).fill(204),
  );
  tusUploadId = (await expectComplete(url)).id;
});

test('a connection cut mid-upload keeps what arrived; the stored URL resumes from there', async () => {
  // One PATCH for the whole file, sent slowly and without a checksum, as tus-js-client does by default.
  const first = options({ slowMs: 15, noChecksum: true }, { chunkSize: Infinity });
  const upload = new Upload(FILE, first.opts);
  const cut = new Promise<void>((resolve, reject) => {
    upload.options.onProgress = (sent) => {
      if (sent > FILE.byteLength * 0.4) {
        upload.options.onProgress = null;
        upload.abort().then(resolve, reject);
      }
    };
    upload.options.onError = reject;
    upload.options.onSuccess = () => reject(new Error('the upload finished before the cut'));
  });
  upload.start();
  await cut;
  const stored = upload.url!;
  assert.ok(stored);
  // The Worker stores what it received when the body breaks off: poll until that has landed.
  let kept = 0;
  for (let i = 0; i < 100 && kept === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    kept = Number((await head(stored)).headers.get('upload-offset'));
  }
  assert.ok(kept > 0 && kept < FILE.byteLength, `kept ${kept} of ${FILE.byteLength} bytes`);

  const second = options({ noChecksum: true }, { uploadUrl: stored, chunkSize: Infinity });
  assert.equal(await run(new Upload(FILE, second.opts)), stored);
  assert.deepEqual(
    second.patches.map((p) => p.offset),
    [kept],
    'the resumed upload sent only the rest, once',
  );
  await expectComplete(stored);
});

test('a chunk with a wrong checksum is refused with 460 and dropped; the upload then resumes', async () => {
  const bad = options({ wrongChecksum: 2 });
  const error = await run(new Upload(FILE, bad.opts)).then(
    () => null,
    (err: DetailedError) => err,
  );
  assert.ok(error, 'tus-js-client gives up on a 4xx other than 409/423');
  assert.equal(error.originalResponse?.getStatus(), 460);
  const problem = JSON.parse(error.originalResponse?.getBody() ?? '{}') as { type: string; title: string };
  assert.equal(problem.type, 'https://nnsam-edge.dev/problems/chunk_checksum_mismatch');
  assert.equal(problem.title, 'Checksum Mismatch');
  const url = error.originalRequest!.getURL();
  assert.equal((await head(url)).headers.get('upload-offset'), String(CHUNK), 'only the first chunk is kept');
  const again = options({}, { uploadUrl: url });
  await run(new Upload(FILE, again.opts));
  assert.equal(again.patches[0].offset, CHUNK);
  await expectComplete(url);
});

test("a job on the tus upload gives the one-shot's label map for the same file", async () => {
  assert.ok(tusUploadId, 'the upload test ran');
  const jobs = jobClient(w, key);
  // Each body is read as soon as its answer comes: the one-shot takes minutes, and an answer left
  // unread that long is dropped by the test's HTTP client.
  const [created, oneShot] = await Promise.all([
    jobs
      .create({ upload_id: tusUploadId, model: 'brain-wm-2d' })
      .then(async (r) => ({ status: r.status, text: await r.text() })),
    w
      .fetch('/v1/segment?model=brain-wm-2d', {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, accept: 'application/gzip' },
        body: FSB as unknown as BodyInit,
      })
      .then(async (r) => ({ status: r.status, bytes: new Uint8Array(await r.arrayBuffer()) })),
  ]);
  assert.equal(created.status, 202, created.text);
  assert.equal(oneShot.status, 200, new TextDecoder().decode(oneShot.bytes.subarray(0, 500)));
  const direct = labelsOfNiftiGz(oneShot.bytes);
  const job = await jobs.waitFinal((JSON.parse(created.text) as { id: string }).id, 900_000, 500);
  assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  const result = labelsOfNiftiGz(new Uint8Array(await (await jobs.result(job.id)).arrayBuffer()));
  assert.equal(result.labels.byteLength, 256 ** 3);
  assert.ok(
    result.labels.some((v) => v !== 0),
    'the mask is not empty',
  );
  assert.ok(result.labels.equals(direct.labels), "the job's label map is the one-shot's");
  assert.deepEqual(result.image.affine, direct.image.affine);
});
