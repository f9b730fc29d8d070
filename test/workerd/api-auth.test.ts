// API keys and request ids in workerd: keys made by `nnsam keys` on a persistence directory are
// accepted by the Worker started on it (as `wrangler dev` would be), revoked ones are not; missing,
// malformed and wrong keys answer 401, a missing scope 403; every response carries X-Request-Id.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { KEYS_NAMESPACE_ID } from '../../engine/cli/commands/keys.js';
import { runCli } from '../../engine/cli/main.js';
import { REPO_ROOT } from '../support/goldens.js';
import { expectProblem, openApiDoc, sha256Hex, uploadClient } from './api-checks.js';
import { KEYS_NAMESPACE, startApi } from './api-world.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY: false });
  return { code, out, err };
}

test('nnsam keys create|list|revoke on the wrangler dev persistence, seen by the Worker', async () => {
  // The CLI, wrangler dev and these tests name the same KV namespace.
  const toml = readFileSync(`${REPO_ROOT}wrangler.toml`, 'utf8');
  assert.equal(/binding = "KEYS"\s*\nid = "([^"]+)"/.exec(toml)?.[1], KEYS_NAMESPACE_ID);
  assert.equal(KEYS_NAMESPACE, KEYS_NAMESPACE_ID);
  const dir = mkdtempSync(join(tmpdir(), 'nnsam-keys-'));
  const made = await cli(
    'keys',
    'create',
    '--tenant',
    'acme',
    '--scopes',
    'usage',
    '--persist-to',
    dir,
    '--json',
  );
  assert.equal(made.code, 0, made.err);
  const { token, id } = JSON.parse(made.out) as { token: string; id: string };
  assert.match(token, /^nsk_[0-9a-f]{16}_[\w-]{43}$/);
  const other = await cli('keys', 'create', '--tenant', 'globex', '--persist-to', dir, '--json');
  assert.equal(other.code, 0, other.err);

  const listed = await cli('keys', 'list', '--tenant', 'acme', '--persist-to', dir, '--json');
  const keys = JSON.parse(listed.out) as { id: string; tenant: string; scopes: string[]; revoked_at: null }[];
  assert.deepEqual(
    keys.map((k) => [k.id, k.tenant, k.scopes, k.revoked_at]),
    [[id, 'acme', ['usage'], null]],
  );
  assert.ok(!listed.out.includes(token.slice(21)) && !listed.out.includes('sha256'), 'no secret in listings');

  let w = await startApi('auth', { persistTo: dir });
  try {
    const doc = await openApiDoc(w);
    const ok = await w.fetch('/v1/usage', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200, await ok.text());
    // The key holds only `usage`: uploads are forbidden, not unauthenticated.
    const upload = await w.fetch('/v1/uploads', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ length: 1, content_type: 'text/plain', sha256: '0'.repeat(64) }),
    });
    assert.match(upload.headers.get('www-authenticate') ?? '', /insufficient_scope/);
    await expectProblem(upload, 403, 'insufficient_scope', doc, 'post /v1/uploads');
  } finally {
    await w.dispose();
  }

  assert.equal((await cli('keys', 'revoke', '--id', id, '--persist-to', dir)).code, 0);
  const missing = await cli('keys', 'revoke', '--id', 'ffffffffffffffff', '--persist-to', dir);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /key_not_found/);
  assert.equal((await cli('keys', 'create', '--persist-to', dir)).code, 2, '--tenant is required');
  assert.equal((await cli('keys', 'create', '--tenant', 'Bad Tenant!', '--persist-to', dir)).code, 2);

  w = await startApi('auth', { persistTo: dir });
  try {
    const doc = await openApiDoc(w);
    const revoked = await w.fetch('/v1/usage', { headers: { authorization: `Bearer ${token}` } });
    await expectProblem(revoked, 401, 'unauthorized', doc, 'get /v1/usage');
  } finally {
    await w.dispose();
  }
});

test('401 for missing, malformed and wrong keys; X-Request-Id on every response', async () => {
  const w = await startApi('auth');
  try {
    const doc = await openApiDoc(w);
    const token = await w.key('acme');
    const wrong = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    for (const authorization of [undefined, 'Basic abc', 'Bearer nope', `Bearer ${wrong}`]) {
      const res = await w.fetch('/v1/usage', { headers: authorization ? { authorization } : {} });
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
      await expectProblem(res, 401, 'unauthorized', doc, 'get /v1/usage');
    }
    const given = await w.fetch('/v1/models', { headers: { 'x-request-id': 'client-abc.123' } });
    assert.equal(given.headers.get('x-request-id'), 'client-abc.123');
    const unsafe = await w.fetch('/nope', { headers: { 'x-request-id': 'bad id\u00e9' } });
    assert.match(unsafe.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(unsafe.headers.get('content-type'), 'application/problem+json');
    for (const path of ['/healthz', '/v1/version', '/openapi.json', `/v1/usage`]) {
      const res = await w.fetch(path, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(res.headers.get('x-frame-options'), 'SAMEORIGIN', path);
    }
  } finally {
    await w.dispose();
  }
});

test('logs are one JSON object per line, with request ids, never keys or uploaded bytes', async () => {
  let logs = '';
  const w = await startApi('auth', { onStdio: (text) => (logs += text) });
  try {
    const token = await w.key('acme');
    const marker = 'PATIENT-NAME-DOE^JOHN';
    const chunk = new TextEncoder().encode(marker.repeat(50));
    const client = uploadClient(w, token);
    const created = await client.create({
      length: chunk.byteLength,
      content_type: 'application/dicom',
      sha256: sha256Hex(chunk),
    });
    const { id } = (await created.json()) as { id: string };
    const ids = [created.headers.get('x-request-id')];
    for (const res of [
      await client.patch(id, 0, chunk),
      await w.fetch('/v1/usage', { headers: { authorization: `Bearer ${token}x` } }),
      await w.fetch(`/v1/usage?from=${marker}`, { headers: { authorization: `Bearer ${token}` } }),
    ]) {
      ids.push(res.headers.get('x-request-id'));
    }
    await setTimeout(200); // workerd's stdout arrives asynchronously
    const lines = logs.split('\n').filter((l) => l.trim() !== '');
    const entries = lines.map(
      (l) => JSON.parse(l) as { level: string; msg: string; request_id: string; status: number },
    );
    assert.deepEqual(
      entries.filter((e) => e.msg === 'request').map((e) => [e.request_id, e.status]),
      ids.map((rid, i) => [rid, [201, 204, 401, 400][i]]),
    );
    for (const secret of [
      token,
      token.slice('nsk_'.length + 16 + 1), // the secret (base64url: it may itself hold '_')
      marker,
      Buffer.from(chunk).toString('base64').slice(0, 40),
    ]) {
      assert.ok(!logs.includes(secret), `no key, image bytes or query values in the logs: found '${secret}'`);
    }
  } finally {
    await w.dispose();
  }
});
