// The OpenAPI 3.1 document served at /openapi.json against the router itself: every route is there
// and answers, every operation documents its problem+json errors, every $ref resolves. And
// GET /v1/models against the manifests in models/ and the price table in KV.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { CLIENT_OPERATIONS } from '../../engine/client/index.js';
import { REPO_ROOT } from '../support/goldens.js';
import { openApiDoc, type OpenApiDoc } from './api-checks.js';
import { startApi, type ApiWorld } from './api-world.js';

let w: ApiWorld;
let doc: OpenApiDoc;

before(async () => {
  w = await startApi('openapi');
  doc = await openApiDoc(w);
});

after(async () => {
  await w?.dispose();
});

// Every operation of the typed client (each one it calls must be documented), and the probes.
const OPERATIONS = [...CLIENT_OPERATIONS, 'get /healthz', 'get /v1/version'];

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`));

test('the document is OpenAPI 3.1 and lists every route, each of which the router serves', async () => {
  assert.equal(doc.openapi, '3.1.0');
  const pkg = JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { version: string };
  assert.equal((doc as unknown as { info: { version: string } }).info.version, pkg.version);
  assert.deepEqual(operations().sort(), [...OPERATIONS].sort());
  for (const op of OPERATIONS) {
    const [method, path] = op.split(' ');
    const res = await w.fetch(path.replace('{id}', crypto.randomUUID()), { method: method.toUpperCase() });
    // Unauthenticated calls to real routes answer 200 (204: tus discovery) or 401, never the router's 404.
    assert.ok([200, 204, 401].includes(res.status), `${op}: ${res.status}`);
  }
});

test('every operation documents its errors as problem+json, auth errors where a key is needed', () => {
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(
      ops as Record<
        string,
        { responses: OpenApiDoc['paths'][string][string]['responses']; security?: unknown[] }
      >,
    )) {
      const statuses = Object.keys(op.responses);
      for (const s of ['400', '413', '500'])
        assert.ok(statuses.includes(s), `${method} ${path} documents ${s}`);
      if (op.security?.length) {
        for (const s of ['401', '403']) assert.ok(statuses.includes(s), `${method} ${path} documents ${s}`);
      }
      // A degraded /healthz is a health report (503 + the kernel check), not an error of the request.
      for (const s of statuses.filter((x) => Number(x) >= 400 && !(path === '/healthz' && x === '503'))) {
        const content = op.responses[s].content?.['application/problem+json'] as { schema: { $ref: string } };
        assert.equal(content?.schema.$ref, '#/components/schemas/Problem', `${method} ${path} ${s}`);
        assert.match(op.responses[s].description, /^Problem types: https:\/\/nnsam-edge\.dev\/problems\/\w+/);
      }
    }
  }
  // Every $ref points at a component that exists.
  const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
  assert.ok(refs.length > 5);
  for (const ref of new Set(refs)) {
    const name = /#\/components\/schemas\/([^"]+)/.exec(ref)?.[1];
    assert.ok(name && doc.components.schemas[name], `${ref} resolves`);
  }
  assert.deepEqual(Object.keys(doc.components.securitySchemes), ['bearer']);
});

test('GET /v1/models describes every models/*/manifest.json, priced from the KV table', async () => {
  const ids = readdirSync(`${REPO_ROOT}models`).filter((d) =>
    existsSync(`${REPO_ROOT}models/${d}/manifest.json`),
  );
  assert.ok(ids.length >= 1);
  const kv = await w.mf.getKVNamespace('KEYS', 'api');
  await kv.put(
    'prices',
    JSON.stringify({
      currency: 'EUR',
      models: { [ids[0]]: { base_micros: 5000, per_megavoxel_micros: 250 } },
    }),
  );
  const res = await w.fetch('/v1/models');
  assert.equal(res.status, 200);
  const { models } = (await res.json()) as {
    models: {
      id: string;
      version: string;
      versions: { version: string; reference: string; current: boolean; build: string; labels: unknown }[];
      labels: unknown;
      price: unknown;
      accepted_inputs: string[];
      modality: string[];
    }[];
  };
  assert.deepEqual(
    models.map((m) => m.id).sort(),
    [...ids].sort(),
    'every model folder is listed in worker/catalog/manifests.ts',
  );
  for (const m of models) {
    const manifest = JSON.parse(readFileSync(`${REPO_ROOT}models/${m.id}/manifest.json`, 'utf8'));
    assert.deepEqual(m.labels, manifest.dataset.labels);
    assert.deepEqual(m.modality, manifest.modality);
    assert.deepEqual(m.modality, Object.values(manifest.dataset.channel_names));
    const weights = readFileSync(`${REPO_ROOT}models/${m.id}/model.onnx`);
    const digest = createHash('sha256').update(weights).digest('hex').slice(0, 12);
    assert.equal(m.version, `${manifest.version}+sha256.${digest}`);
    // Every release folder is offered under its version (one shadowed by the current version aside),
    // the current one first; docs/model-versions.md.
    const releasesDir = `${REPO_ROOT}models/${m.id}/releases`;
    const older = existsSync(releasesDir) ? readdirSync(releasesDir) : [];
    const expected = [
      { version: manifest.version, current: true, folder: `models/${m.id}` },
      ...older
        .filter((v) => v !== manifest.version)
        .sort((a, b) => b.localeCompare(a, 'en', { numeric: true }))
        .map((v) => ({ version: v, current: false, folder: `models/${m.id}/releases/${v}` })),
    ];
    assert.deepEqual(
      m.versions.map((v) => [v.version, v.current, v.reference]),
      expected.map((e) => [e.version, e.current, `${m.id}@${e.version}`]),
      'every models/<id>/releases/<version>/ is listed in worker/catalog/manifests.ts',
    );
    for (const [i, e] of expected.entries()) {
      const release = JSON.parse(readFileSync(`${REPO_ROOT}${e.folder}/manifest.json`, 'utf8'));
      assert.equal(release.version, e.version, `${e.folder} holds release ${e.version}`);
      const sha = createHash('sha256')
        .update(readFileSync(`${REPO_ROOT}${e.folder}/model.onnx`))
        .digest('hex');
      assert.equal(m.versions[i].build, `${e.version}+sha256.${sha.slice(0, 12)}`);
      assert.deepEqual(m.versions[i].labels, release.dataset.labels);
    }
    assert.equal(m.accepted_inputs.includes('image/png'), manifest.configuration.startsWith('2d'));
    assert.deepEqual(
      m.price,
      m.id === ids[0] ? { currency: 'EUR', base_micros: 5000, per_megavoxel_micros: 250 } : null,
    );
  }
});
