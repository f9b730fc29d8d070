#!/usr/bin/env node
// `npm start` / `npm run dev`: one local inference node (`nnsam serve` on 127.0.0.1:8788, the
// INFERENCE_NODES of wrangler.toml) and the edge API under `wrangler dev` on 127.0.0.1:8787.
// Ctrl-C stops both; if either exits, the other is stopped too. First it puts the edge-capable
// models' files (manifest `edge.file`) into the local MODELS bucket, so small one-shot inputs run
// inside the Worker.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const wranglerEnv = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' };

for (const id of readdirSync(`${root}models`)) {
  const manifestPath = `${root}models/${id}/manifest.json`;
  if (!existsSync(manifestPath)) continue;
  const file = JSON.parse(readFileSync(manifestPath, 'utf8')).edge?.file;
  if (!file) continue;
  const put = spawnSync(
    process.execPath,
    [
      'node_modules/wrangler/bin/wrangler.js',
      'r2',
      'object',
      'put',
      `nnsam-models/${id}/${file}`,
      '--local',
      '--file',
      `models/${id}/${file}`,
    ],
    { cwd: root, stdio: 'inherit', env: wranglerEnv },
  );
  // Without the file every run goes to the node: worth a warning, not a failed start.
  if (put.status !== 0)
    console.warn(`dev: could not put ${id}/${file} into MODELS; it runs on the node only`);
}

const children = [
  spawn(process.execPath, ['bin/nnsam.js', 'serve', '--host', '127.0.0.1', '--port', '8788'], {
    cwd: root,
    stdio: 'inherit',
  }),
  spawn(
    process.execPath,
    ['node_modules/wrangler/bin/wrangler.js', 'dev', '--ip', '127.0.0.1', '--port', '8787'],
    {
      cwd: root,
      stdio: 'inherit',
      env: wranglerEnv,
    },
  ),
];

let stopping = false;
function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  process.exitCode = code;
}
for (const child of children) child.on('exit', (code) => stopAll(code ?? 1));
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));
