// `nnsam serve` as a launcher runs it: a child process that prints one listening line, answers
// /healthz, and exits 0 on SIGTERM after closing the server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { REPO_ROOT } from '../../test/support/goldens.js';
import { runCli } from '../cli/main.js';
import { autoConcurrency } from './concurrency.js';

test('nnsam serve --port 0 listens, serves /healthz and exits 0 on SIGTERM', async () => {
  const child = spawn(process.execPath, ['bin/nnsam.js', 'serve', '--port', '0', '--queue', '3'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const exited = once(child, 'exit');
  try {
    const lines = createInterface({ input: child.stdout });
    const [first] = (await once(lines, 'line')) as [string];
    const m = /^nnsam serve: listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(first);
    assert.ok(m, `listening line, got '${first}'`);
    assert.ok(Number(m[2]) > 0);
    const res = await fetch(`${m[1]}/healthz`, { headers: { 'X-Request-Id': 'cli-health-1' } });
    assert.equal(res.status, 200);
    const h = (await res.json()) as { status: string; queue: number; concurrency: number; models: string[] };
    assert.equal(h.status, 'ok');
    assert.equal(h.queue, 3);
    // No --concurrency: auto, sized to the cores this machine gives the child (same affinity as ours).
    const auto = autoConcurrency({ cores: availableParallelism(), threads: 1, device: 'cpu' });
    assert.equal(h.concurrency, auto);
    assert.ok(h.models.includes('brain-wm-2d'));
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0, stderr);
    const logged = stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(
      logged.some((l) => l.request_id === 'cli-health-1' && l.status === 200 && l.path === '/healthz'),
    );
    assert.ok(logged.some((l) => l.msg === 'runs' && l.setting === 'auto' && l.concurrency === auto));
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('nnsam serve refuses a bad command line before listening', async () => {
  const run = async (...argv: string[]): Promise<{ code: number; err: string }> => {
    let err = '';
    const code = await runCli(['serve', ...argv], {
      stdout: () => {},
      stderr: (t) => (err += t),
      isTTY: false,
    });
    return { code, err };
  };
  const unset = await run('--token-env', 'NNSAM_TEST_SURELY_UNSET_TOKEN');
  assert.equal(unset.code, 2);
  assert.match(unset.err, /NNSAM_TEST_SURELY_UNSET_TOKEN: that environment variable is not set/);
  assert.equal((await run('--port', 'abc')).code, 2);
  assert.equal((await run('--concurrency', '0')).code, 2);
  assert.equal((await run('--concurrency', 'two')).code, 2);
  assert.equal((await run('--device', 'tpu')).code, 2);
  // Beyond loopback without a token: refused, with what to do instead.
  for (const host of ['0.0.0.0', '::', '10.0.0.5']) {
    const open = await run('--host', host);
    assert.equal(open.code, 2, host);
    assert.match(open.err, /--token-env NAME .* --allow-unauthenticated/);
  }
});

test('beyond loopback: --allow-unauthenticated starts an open node; --token-env starts one that wants the token', async () => {
  /** Starts `nnsam serve` on all interfaces and returns its loopback origin once it listens. */
  const start = async (args: string[], env: NodeJS.ProcessEnv = process.env) => {
    const child = spawn(
      process.execPath,
      ['bin/nnsam.js', 'serve', '--host', '0.0.0.0', '--port', '0', ...args],
      {
        cwd: REPO_ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const [first] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    const m = /^nnsam serve: listening on http:\/\/0\.0\.0\.0:(\d+)$/.exec(first);
    assert.ok(m, `listening line, got '${first}'`);
    return { child, origin: `http://127.0.0.1:${m[1]}` };
  };
  const open = await start(['--allow-unauthenticated']);
  try {
    assert.equal((await fetch(`${open.origin}/healthz`)).status, 200);
    assert.equal((await fetch(`${open.origin}/metrics`)).status, 200, 'no token asked');
  } finally {
    open.child.kill('SIGKILL');
  }
  const guarded = await start(['--token-env', 'NNSAM_TEST_NODE_TOKEN'], {
    ...process.env,
    NNSAM_TEST_NODE_TOKEN: 'a-node-secret',
  });
  try {
    assert.equal((await fetch(`${guarded.origin}/metrics`)).status, 401);
    const auth = { authorization: 'Bearer a-node-secret' };
    assert.equal((await fetch(`${guarded.origin}/metrics`, { headers: auth })).status, 200);
  } finally {
    guarded.child.kill('SIGKILL');
  }
});
