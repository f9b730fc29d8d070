// The typed client's paid requests (docs/billing.md): always sent with an Idempotency-Key, and
// retried with that same key only when the answer is not a final one of the API (a dropped
// connection, a proxy's 5xx without X-Request-Id, busy nodes, the first attempt still running).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiProblemError, idempotencyKeyOf, NnsamClient } from './client.js';

type Reply = Response | Error;

/** A client over scripted replies; records each request's Idempotency-Key and the waits. */
function scripted(replies: Reply[]) {
  const keys: (string | null)[] = [];
  const waits: number[] = [];
  const client = new NnsamClient({
    baseUrl: 'http://api.test',
    apiKey: 'nsk_test',
    fetch: async (_url, init) => {
      keys.push(new Headers(init.headers).get('idempotency-key'));
      const next = replies.shift();
      if (!next) throw new Error('no more replies');
      if (next instanceof Error) throw next;
      return next;
    },
    sleep: async (ms) => void waits.push(ms),
  });
  return { client, keys, waits };
}

const ours = (status: number, code: string, headers: Record<string, string> = {}) =>
  new Response(
    JSON.stringify({
      type: `https://nnsam-edge.dev/problems/${code}`,
      title: 'x',
      status,
      detail: code,
      instance: '/',
    }),
    {
      status,
      headers: { 'content-type': 'application/problem+json', 'x-request-id': 'r1', ...headers },
    },
  );
const labels = () =>
  new Response(new Uint8Array([1, 2, 3]), {
    status: 200,
    headers: {
      'content-type': 'application/gzip',
      'x-charge-micros': '10500',
      'x-voxels': '3',
      'x-request-id': 'r2',
    },
  });
const IMAGE = new Uint8Array([0x89, 0x50]);

test("a proxy's 503, a dropped connection, busy nodes and an in-flight first attempt are retried with the same key", async () => {
  const { client, keys, waits } = scripted([
    new Response('Your worker restarted mid-request', {
      status: 503,
      headers: { 'content-type': 'text/plain' },
    }),
    new TypeError('fetch failed'),
    ours(503, 'no_inference_node', { 'retry-after': '3' }),
    ours(409, 'idempotency_key_in_flight', { 'retry-after': '2' }),
    labels(),
  ]);
  const result = await client.segment('brain-wm-2d', IMAGE);
  assert.equal(result.chargeMicros, 10500);
  assert.equal(keys.length, 5);
  assert.match(keys[0]!, /^[0-9a-f-]{36}$/, 'a key is made when the caller gives none');
  assert.ok(
    keys.every((k) => k === keys[0]),
    'every retry carries the first key',
  );
  assert.deepEqual(waits.slice(2), [3000, 2000], "the server's Retry-After is honoured");
});

test("the API's own final answers are not retried, and a caller's key is used as given", async () => {
  for (const final of [
    ours(422, 'idempotency_key_reused'),
    ours(413, 'work_too_large'),
    ours(500, 'internal'),
  ]) {
    const { client, keys } = scripted([final, labels()]);
    await assert.rejects(client.segment('brain-wm-2d', IMAGE, { idempotencyKey: 'mine' }), ApiProblemError);
    assert.deepEqual(keys, ['mine']);
  }
  // Retries stop after the configured number.
  const { client, keys } = scripted(Array.from({ length: 10 }, () => new TypeError('fetch failed')));
  await assert.rejects(client.createJob({ upload_id: 'u', model: 'm' } as never), TypeError);
  assert.equal(keys.length, 5, 'the first attempt and 4 retries');
});

test('an unsettled charge is retried with the same key; the last error carries the key for later', async () => {
  const { client, keys } = scripted([ours(503, 'charge_unsettled', { 'retry-after': '2' }), labels()]);
  assert.equal((await client.segment('brain-wm-2d', IMAGE)).chargeMicros, 10500);
  assert.equal(keys.length, 2);
  assert.equal(keys[1], keys[0]);

  const down = scripted(Array.from({ length: 5 }, () => ours(503, 'charge_unsettled')));
  const err = await down.client.segment('brain-wm-2d', IMAGE).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApiProblemError);
  assert.equal(err.code, 'charge_unsettled');
  assert.equal(idempotencyKeyOf(err), down.keys[0], 'the key the client made, to send again later');
});

test('a store that is briefly unavailable (503 service_unavailable, nothing charged) is retried with the same key', async () => {
  const { client, keys } = scripted([ours(503, 'service_unavailable', { 'retry-after': '1' }), labels()]);
  assert.equal((await client.segment('brain-wm-2d', IMAGE)).chargeMicros, 10500);
  assert.deepEqual(keys, [keys[0], keys[0]]);
});

test('a charged answer whose body is cut off is asked for again with its key; every last error carries the key', async () => {
  // Found by review: the body was read after the retries, so a cut-off result was lost and its key with it.
  const cut = new Response(
    new ReadableStream({
      start(controller) {
        controller.enqueue(new Uint8Array([1]));
        controller.error(new TypeError('terminated'));
      },
    }),
    { status: 200, headers: { 'content-type': 'application/gzip', 'x-request-id': 'r3' } },
  );
  const { client, keys } = scripted([cut, labels()]);
  const result = await client.segment('brain-wm-2d', IMAGE);
  assert.deepEqual(Array.from(result.body), [1, 2, 3]);
  assert.deepEqual(keys, [keys[0], keys[0]]);

  const offline = scripted(Array.from({ length: 5 }, () => new TypeError('fetch failed')));
  const lost = await offline.client.createJob({ upload_id: 'u', model: 'm' } as never).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(lost instanceof TypeError);
  assert.equal(idempotencyKeyOf(lost), offline.keys[0]);
});
