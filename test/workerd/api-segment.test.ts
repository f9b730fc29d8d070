// POST /v1/segment: a 2D slice through the Worker (workerd) and a real inference node, answered as
// PNG, NIfTI or JSON by Accept; each equals the engine run directly. Billing: one charge per
// success, none for a retry with the same Idempotency-Key, none for refused inputs. A model reference
// with a version runs that release, at the model id's one price.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decode } from 'fast-png';
import { readImage } from '../../engine/io/index.js';
import { expectProblem, openApiDoc, type OpenApiDoc } from './api-checks.js';
import { runRaw } from './fuzz-raw-socket.js';
import { startApi, type ApiWorld } from './api-world.js';
import { startNode, type InferenceNode } from './inference-nodes.js';
import { CURRENT_WM, directLabels, labelsOfNiftiGz, priceOf, PRICES, SLICE } from './job-fixtures.js';

let w: ApiWorld;
let node: InferenceNode;
let doc: OpenApiDoc;
let auth: Record<string, string>;
let direct: Uint8Array;
const VOXELS = readImage(SLICE).shape.reduce((a, b) => a * b, 1);
const OP = 'post /v1/segment';

before(async () => {
  node = await startNode();
  w = await startApi('segment', {
    vars: {
      INFERENCE_NODES: node.url,
      DEFAULT_PRICES: JSON.stringify(PRICES),
      MAX_BODY_BYTES: String(2 ** 20),
      MAX_CHUNK_BYTES: String(2 ** 20),
    },
  });
  doc = await openApiDoc(w);
  auth = { authorization: `Bearer ${await w.key('acme')}` };
  direct = (await directLabels(SLICE, true)).labels;
});

after(async () => {
  await w?.dispose();
  await node?.kill();
});

const post = (body: Uint8Array, headers: Record<string, string> = {}, model = 'brain-wm-2d') =>
  w.fetch(`/v1/segment?model=${model}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/octet-stream', ...headers },
    body: body as unknown as BodyInit,
  });

async function charges(): Promise<
  { job_id: string; idempotency_key: string | null; amount_micros: number }[]
> {
  const res = await w.fetch('/v1/usage', { headers: auth });
  return (
    (await res.json()) as {
      charges: { job_id: string; idempotency_key: string | null; amount_micros: number }[];
    }
  ).charges;
}

test('Accept: image/png gives the label map as PNG pixels, charged at the price of its voxels', async () => {
  const res = await post(SLICE, { accept: 'image/png' });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('content-type'), 'image/png');
  // This world's MODELS bucket is empty, so even an edge-sized input runs on the node.
  assert.equal(res.headers.get('x-placement'), 'node');
  assert.equal(res.headers.get('x-voxels'), String(VOXELS));
  assert.equal(res.headers.get('x-charge-micros'), String(priceOf(VOXELS)));
  const png = decode(new Uint8Array(await res.arrayBuffer()));
  assert.deepEqual(Array.from(png.data), Array.from(direct));
});

test('no Accept gives NIfTI (.nii.gz); application/json gives per-label statistics', async () => {
  const nifti = await post(SLICE);
  assert.equal(nifti.status, 200);
  assert.equal(nifti.headers.get('content-type'), 'application/gzip');
  assert.ok(labelsOfNiftiGz(new Uint8Array(await nifti.arrayBuffer())).labels.equals(direct));
  const json = await post(SLICE, { accept: 'application/json' });
  assert.equal(json.status, 200);
  const body = (await json.json()) as { labels: { label: number; voxels: number }[] };
  const wm = direct.reduce((n, v) => n + (v === 1 ? 1 : 0), 0);
  assert.deepEqual(
    body.labels.map((l) => [l.label, l.voxels]),
    [[1, wm]],
  );
});

test('a retry with the same Idempotency-Key is answered again but charged once', async () => {
  // Each answer is read before the next request: an unread Miniflare answer left across another
  // dispatchFetch was once found already consumed (CI, 2026-12-03).
  const first = await post(SLICE, { accept: 'image/png', 'idempotency-key': 'seg-1' });
  assert.equal(first.status, 200);
  const firstBytes = new Uint8Array(await first.arrayBuffer());
  const second = await post(SLICE, { accept: 'image/png', 'idempotency-key': 'seg-1' });
  assert.equal(second.status, 200);
  assert.equal(second.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(new Uint8Array(await second.arrayBuffer()), firstBytes);
  assert.equal((await charges()).filter((c) => c.idempotency_key === 'seg-1').length, 1);
});

test('refusals: unreadable body, unknown model, unacceptable Accept, body over the cap; none charged', async () => {
  const before = (await charges()).length;
  const garbage = await post(new TextEncoder().encode('plain text, not an image'));
  assert.equal(garbage.status, 415);
  assert.equal(garbage.headers.get('content-type'), 'application/problem+json');
  assert.equal(
    ((await garbage.json()) as { type: string }).type,
    'https://nnsam-edge.dev/problems/unknown_format',
  );
  await expectProblem(await post(SLICE, {}, 'no-such-model'), 404, 'model_not_found', doc, OP);
  const html = await post(SLICE, { accept: 'text/html' });
  assert.equal(html.status, 406);
  await expectProblem(await post(new Uint8Array(2 ** 20 + 1)), 413, 'body_too_large', doc, OP);
  assert.equal((await charges()).length, before);
});

test('without an Idempotency-Key an unknown model is refused before the body is read (its answer waits at most DRAIN_MS for it); with one, after', async () => {
  const before = (await charges()).length;
  const port = Number((await w.mf.ready).port);
  // A body that declares 1000 bytes and sends 10: only a route that does not wait for it answers.
  const stalled = (key: string | null) =>
    runRaw(
      port,
      {
        writes: [
          [
            'POST /v1/segment?model=no-such-model HTTP/1.1',
            'Host: localhost',
            `Authorization: ${auth.authorization}`,
            'Content-Type: application/octet-stream',
            'Content-Length: 1000',
            ...(key ? [`Idempotency-Key: ${key}`] : []),
            '',
            '0123456789',
          ].join('\r\n'),
        ],
        end: 'read-open',
      },
      3000,
    );
  const keyless = await stalled(null);
  assert.equal(keyless.hung, false);
  assert.match(keyless.responses[0] ?? '', /^HTTP\/1\.1 404 /);
  assert.match(keyless.responses[0], /model_not_found/);
  // A keyed request hashes its body to look for its replay before the model is resolved, so it waits.
  assert.equal((await stalled('seg-stalled-unknown')).responses.length, 0);
  assert.equal((await charges()).length, before);
});

test('nobody makes the Worker hold a body unasked: a caller without a credential is answered without its body being held, within a second of a stalled one', async () => {
  const port = Number((await w.mf.ready).port);
  // Found by review: a chunked body was read whole, up to the body cap, before any route checked
  // the caller. Here one chunk is sent and the rest never comes: the answer waits for it no longer
  // than DRAIN_MS (worker/http-body.ts), holding nothing.
  const stalled = (path: string, contentType: string) =>
    runRaw(
      port,
      {
        writes: [
          [
            `POST ${path} HTTP/1.1`,
            'Host: localhost',
            `Content-Type: ${contentType}`,
            'Transfer-Encoding: chunked',
            '',
            'a',
            '0123456789',
            '',
          ].join('\r\n'),
        ],
        end: 'read-open',
      },
      3000,
    );
  for (const [path, type] of [
    ['/v1/segment?model=brain-wm-2d', 'application/octet-stream'],
    ['/v1/no-such-route', 'application/octet-stream'],
  ]) {
    const answer = await stalled(path, type);
    assert.equal(answer.hung, false, path);
    assert.match(answer.responses[0] ?? '', /^HTTP\/1\.1 (401|404) /, path);
  }
  // The early answer still takes the body it did not need, so the connection stays usable: a second
  // request on it is answered too.
  const body = 'x'.repeat(200_000);
  const request = (path: string) =>
    [
      `POST ${path} HTTP/1.1`,
      'Host: localhost',
      'Content-Type: application/octet-stream',
      `Content-Length: ${body.length}`,
      '',
      body,
    ].join('\r\n');
  const both = await runRaw(
    port,
    { writes: [request('/v1/segment?model=brain-wm-2d'), request('/v1/no-such-route')], end: 'read' },
    5000,
  );
  assert.deepEqual(
    both.responses.map((r) => r.slice(0, 12)),
    ['HTTP/1.1 401', 'HTTP/1.1 404'],
  );
  // JSON bodies are read before any route, for their parser: only as much as the API's JSON bodies take.
  const json = await w.fetch('/v1/jobs', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ upload_id: 'x', model: 'brain-wm-2d', pad: 'x'.repeat(70_000) }),
  });
  await expectProblem(json, 413, 'body_too_large', doc, 'post /v1/jobs');
  // A JSON route sent another media type: 415 with its own problem type (found by review: typed invalid_request).
  const text = await w.fetch('/v1/jobs', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'text/plain' },
    body: '{}',
  });
  await expectProblem(text, 415, 'unsupported_media_type', doc, 'post /v1/jobs');
});

test('model=brain-wm-2d@1.2.0 runs release 1.2.0, says so in X-Model-Version and the usage, at the id price', async () => {
  const plain = await post(SLICE, { accept: 'image/png' });
  assert.equal(plain.status, 200);
  assert.deepEqual(
    [plain.headers.get('x-model'), plain.headers.get('x-model-version')],
    ['brain-wm-2d', CURRENT_WM],
  );
  const res = await post(
    SLICE,
    { accept: 'image/png', 'idempotency-key': 'seg-v1.2.0' },
    'brain-wm-2d@1.2.0',
  );
  assert.equal(res.status, 200, await res.clone().text());
  assert.deepEqual(
    [res.headers.get('x-model'), res.headers.get('x-model-version')],
    ['brain-wm-2d', '1.2.0'],
  );
  assert.equal(res.headers.get('x-charge-micros'), String(priceOf(VOXELS)), 'one price for every version');
  const release = (await directLabels(SLICE, true, 'brain-wm-2d@1.2.0')).labels;
  assert.deepEqual(Array.from(decode(new Uint8Array(await res.arrayBuffer())).data), Array.from(release));
  // A replay of the key names the release that ran, as its first answer did.
  const replay = await post(
    SLICE,
    { accept: 'image/png', 'idempotency-key': 'seg-v1.2.0' },
    'brain-wm-2d@1.2.0',
  );
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  assert.equal(replay.headers.get('x-model-version'), '1.2.0');
  const usage = (await (await w.fetch('/v1/usage', { headers: auth })).json()) as {
    charges: { idempotency_key: string | null; model: string; model_version: string | null }[];
  };
  const charge = usage.charges.find((c) => c.idempotency_key === 'seg-v1.2.0');
  assert.deepEqual([charge?.model, charge?.model_version], ['brain-wm-2d', '1.2.0']);
});

test('an unknown version is 404 model_not_found with the versions on offer; a malformed reference is 400', async () => {
  const before = (await charges()).length;
  const missing = await expectProblem(
    await post(SLICE, {}, 'brain-wm-2d@9.9.9'),
    404,
    'model_not_found',
    doc,
    OP,
  );
  assert.match(missing.detail, /No version 9\.9\.9 of model 'brain-wm-2d' \(offered: .*1\.2\.0/);
  for (const bad of ['brain-wm-2d@1.2', 'brain-wm-2d@v1.2.0', 'brain-wm-2d@']) {
    const problem = await expectProblem(
      await post(SLICE, {}, encodeURIComponent(bad)),
      400,
      'invalid_request',
      doc,
      OP,
    );
    assert.match(problem.detail, /ID@MAJOR\.MINOR\.PATCH/);
  }
  assert.equal((await charges()).length, before);
});
