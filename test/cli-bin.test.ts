// The installed `nnsam` launcher as a real process: exit codes and streams as a shell sees them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { REPO_ROOT, SHARED_DATA } from './support/goldens.js';

const run = (...args: string[]) =>
  spawnSync(process.execPath, [`${REPO_ROOT}bin/nnsam.js`, ...args], { encoding: 'utf8', timeout: 60_000 });

test('nnsam --help exits 0 and lists the commands', () => {
  const r = run('--help');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /commands:/);
});

test('nnsam info --json prints parseable JSON for a shared volume', () => {
  const r = run('info', `${SHARED_DATA}fixtures/mr-aniso/KmeansTest_T1UCharRaw.nii.gz`, '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).shape, [128, 128, 62]);
});

test('nnsam with a missing file exits 1 with a message on stderr only', () => {
  const r = run('info', '/nonexistent/x.nii.gz');
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /error \[file_not_found\]/);
});
