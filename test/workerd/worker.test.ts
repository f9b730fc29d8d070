// The edge router running in workerd itself (Miniflare), bundled by wrangler exactly as `npm start`
// and a deploy bundle it: proves the kernel module loads as a pre-compiled module and computes there.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Miniflare } from 'miniflare';
import { REPO_ROOT } from '../support/goldens.js';
import { startBundledWorker } from './miniflare-bundle.js';

const OUT_DIR = `${REPO_ROOT}dist/workerd-bundle`;
let mf: Miniflare;

before(() => {
  mf = startBundledWorker(`${REPO_ROOT}wrangler.toml`, OUT_DIR, { KERNEL_MEMORY_MB: '64' });
});

after(async () => {
  await mf?.dispose();
});

test('GET /healthz runs a WASM kernel inside workerd', async () => {
  const res = await mf.dispatchFetch('http://localhost/healthz');
  assert.equal(res.status, 200);
  const body = (await res.json()) as { status: string; kernels: { ok: boolean; detail: string } };
  assert.equal(body.status, 'ok');
  assert.deepEqual(body.kernels, { ok: true, detail: 'bbox 1,2,1,3,4,2' });
});

test('GET /v1/version reports the package version', async () => {
  const res = await mf.dispatchFetch('http://localhost/v1/version');
  assert.equal(res.status, 200);
  const body = (await res.json()) as { name: string; version: string };
  assert.equal(body.name, 'nnsam-edge');
  assert.match(body.version, /^\d+\.\d+\.\d+/);
});

test('a known path asked with another method answers 405 with the methods it takes', async () => {
  for (const [method, path, allowed] of [
    ['PUT', '/v1/models', /^GET, HEAD$/],
    ['POST', '/v1/usage', /^GET, HEAD$/],
    ['PUT', '/v1/jobs/job_0123', /\bGET\b/],
    ['OPTIONS', '/v1/segment', /^POST$/],
  ] as const) {
    const res = await mf.dispatchFetch(`http://localhost${path}`, { method });
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.match(res.headers.get('allow') ?? '', allowed, `${method} ${path}`);
    assert.match(((await res.json()) as { type: string }).type, /method_not_allowed$/);
  }
});

test('unknown routes answer problem+json 404', async () => {
  const res = await mf.dispatchFetch('http://localhost/nope');
  assert.equal(res.status, 404);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  const body = (await res.json()) as { type: string; status: number };
  assert.equal(body.status, 404);
  assert.match(body.type, /route_not_found$/);
});
