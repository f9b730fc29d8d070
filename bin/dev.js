#!/usr/bin/env node
// `npm start` / `npm run dev`: one local inference node (`nnsam serve` on 127.0.0.1:8788, the
// INFERENCE_NODES of wrangler.toml) and the edge API under `wrangler dev` on 127.0.0.1:8787.
// The node is supervised: if it dies it is restarted (short backoff, at most 5 times a minute) while
// wrangler keeps serving. Ctrl-C stops both; if wrangler exits, or the node keeps crashing, both stop.
// First it puts the edge-capable models' files (manifest `edge.file`) into the local MODELS bucket, so
// small one-shot inputs run inside the Worker. With --create-key (npm start) it creates a development
// API key once both answer /healthz and prints it last, after wrangler's start-up output.
/* global fetch, AbortSignal -- Node 20 globals the shared ESLint config does not list */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { withHugePages } from '../dist/engine/dev/huge-pages.js';
import { supervise } from '../dist/engine/dev/supervise.js';
import { releaseFileKey, UNVERSIONED } from '../dist/engine/models/reference.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const wranglerEnv = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' };
const API = 'http://127.0.0.1:8787';
const NODE = 'http://127.0.0.1:8788';
const READY_TIMEOUT_MS = 180_000;

// Every release's edge file: the current one (models/<id>/) and the older ones
// (models/<id>/releases/<version>/), each under its own key (docs/model-versions.md) and once.
const putKeys = new Set();
for (const id of readdirSync(`${root}models`)) {
  const releasesDir = `${root}models/${id}/releases`;
  const older = existsSync(releasesDir) ? readdirSync(releasesDir).map((v) => `${id}/releases/${v}`) : [];
  for (const folder of [id, ...older]) {
    const manifestPath = `${root}models/${folder}/manifest.json`;
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    const file = manifest.edge?.file;
    if (!file) continue;
    const key = releaseFileKey(id, manifest.version ?? UNVERSIONED, file);
    if (putKeys.has(key)) continue;
    putKeys.add(key);
    const put = spawnSync(
      process.execPath,
      [
        'node_modules/wrangler/bin/wrangler.js',
        'r2',
        'object',
        'put',
        `nnsam-models/${key}`,
        '--local',
        '--file',
        `models/${folder}/${file}`,
      ],
      { cwd: root, stdio: 'inherit', env: wranglerEnv },
    );
    // Without the file every run goes to the node: worth a warning, not a failed start.
    if (put.status !== 0) console.warn(`dev: could not put ${key} into MODELS; it runs on the node only`);
  }
}

const node = supervise(
  () =>
    // Started with node, not through the launcher's shebang: the node gets its setting here.
    spawn(process.execPath, ['bin/nnsam.js', 'serve', '--host', '127.0.0.1', '--port', '8788'], {
      cwd: root,
      stdio: 'inherit',
      env: withHugePages(process.env),
    }),
  {
    name: 'inference node',
    log: (line) => console.error(`dev: ${line}`),
    onGiveUp: () => stopAll(1),
  },
);
const wrangler = spawn(
  process.execPath,
  ['node_modules/wrangler/bin/wrangler.js', 'dev', '--ip', '127.0.0.1', '--port', '8787'],
  { cwd: root, stdio: 'inherit', env: wranglerEnv },
);

let stopping = false;
function stopAll(code) {
  if (stopping) return;
  stopping = true;
  process.exitCode = code;
  void node.stop();
  if (wrangler.exitCode === null) wrangler.kill('SIGTERM');
}
wrangler.on('exit', (code) => stopAll(code ?? 1));
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

if (process.argv.includes('--create-key')) void announceKey();

async function healthy(url) {
  try {
    return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

// The page takes an upload token (browser-safe: uploads and its own jobs, for a few hours), never
// the key; the token rides in the fragment, which the browser does not send to the server.
async function pageUrl(key) {
  try {
    const { models } = await (await fetch(`${API}/v1/models`)).json();
    const res = await fetch(`${API}/v1/upload-tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        models: models.map((m) => m.id),
        max_bytes: 2 ** 30,
        max_jobs: 20,
        expires_in_minutes: 720,
        label: 'npm-start',
      }),
    });
    if (res.status !== 201) throw new Error(`${res.status} ${await res.text()}`);
    const { token } = await res.json();
    return [`Open the page (an upload token for 12 hours in the #fragment):`, `  ${API}/app#token=${token}`];
  } catch (err) {
    return [
      `(no page token: ${err.message}; mint one with POST ${API}/v1/upload-tokens, see docs/uploads.md)`,
    ];
  }
}

// Printed once both answer, so wrangler's start-up lines do not scroll the key away.
async function announceKey() {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!stopping && !((await healthy(API)) && (await healthy(NODE)))) {
    if (Date.now() > deadline) {
      console.error(`dev: no answer from ${API} and ${NODE} in ${READY_TIMEOUT_MS / 1000} s; no key created`);
      return;
    }
    await sleep(500);
  }
  if (stopping) return;
  let token;
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['bin/nnsam.js', 'keys', 'create', '--tenant', 'dev', '--name', 'npm-start', '--json'],
      { cwd: root },
    );
    token = JSON.parse(stdout).token;
  } catch (err) {
    console.error(
      `dev: could not create a dev key (${err.message}); run: npx nnsam keys create --tenant dev`,
    );
    return;
  }
  const page = await pageUrl(token);
  const lines = [
    `nnsam-edge is up: API ${API}, inference node ${NODE}. Ctrl-C stops both.`,
    ...page,
    `Development API key (tenant dev, shown once):`,
    `  ${token}`,
    `Try:`,
    `  curl -s ${API}/v1/models -H "Authorization: Bearer ${token}"`,
    `  curl -s "${API}/v1/segment?model=brain-wm-2d" -H "Authorization: Bearer ${token}" \\`,
    `    -H 'accept: image/png' --data-binary @../shared/data/fixtures/mr-aniso/BrainT1Slice.png -o slice_wm.png`,
  ];
  const rule = '='.repeat(72);
  console.log(['', rule, ...lines, rule, ''].join('\n'));
}
