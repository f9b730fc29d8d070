// The dev runner's supervisor on real child processes: a killed child comes back after the backoff,
// a crash loop ends once the per-window budget is spent, and stop() ends the child for good.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { supervise } from './supervise.js';

const node = (code: string) => () => spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
const LONG_RUNNING = 'setInterval(() => {}, 1000)';

test('a killed child is started again after the backoff, and stop() ends it without a restart', async () => {
  const logs: string[] = [];
  const s = supervise(node(LONG_RUNNING), {
    name: 'node',
    log: (l) => logs.push(l),
    onGiveUp: () => assert.fail('gave up'),
    backoffMs: 50,
  });
  const first = s.child;
  await once(first, 'spawn');
  const t0 = Date.now();
  first.kill('SIGKILL');
  while (s.child === first) await sleep(10);
  assert.ok(Date.now() - t0 >= 45, 'waited for the backoff');
  assert.equal(s.restarts, 1);
  assert.match(
    logs[0],
    /^node exited \(signal SIGKILL\); restarting it in 50 ms \(restart 1 of at most 5 per 60 s\)$/,
  );
  const second = s.child;
  await s.stop();
  assert.equal(second.signalCode, 'SIGTERM');
  await sleep(150);
  assert.equal(s.child, second, 'no restart after stop()');
  assert.equal(logs.length, 1);
});

test('a crash loop: maxRestarts restarts with growing delays, then it gives up', async () => {
  const starts: number[] = [];
  const logs: string[] = [];
  let gaveUp = false;
  const s = supervise(
    () => {
      starts.push(Date.now());
      return node('process.exit(3)')();
    },
    {
      name: 'node',
      log: (l) => logs.push(l),
      onGiveUp: () => (gaveUp = true),
      maxRestarts: 3,
      backoffMs: 20,
    },
  );
  while (!gaveUp) await sleep(10);
  assert.equal(starts.length, 4, 'the first start and three restarts');
  assert.equal(s.restarts, 3);
  assert.deepEqual(
    logs.map((l) => /in (\d+) ms/.exec(l)?.[1]),
    ['20', '40', '80', undefined],
  );
  for (let i = 1; i < starts.length; i++) {
    assert.ok(starts[i] - starts[i - 1] >= 20 * 2 ** (i - 1) - 5, `restart ${i} waited its backoff`);
  }
  assert.match(logs[3], /^node exited \(code 3\) after 3 restarts within 60 s; not restarting it$/);
  await s.stop();
});

test('the budget is per window: restarts older than windowMs no longer count', async () => {
  let gaveUp = false;
  // Each run lasts longer than the window, so every exit finds the last restart already out of it.
  const s = supervise(node('setTimeout(() => process.exit(1), 120)'), {
    name: 'node',
    log: () => {},
    onGiveUp: () => (gaveUp = true),
    maxRestarts: 1,
    windowMs: 100,
    backoffMs: 10,
  });
  while (s.restarts < 3) await sleep(20);
  assert.equal(gaveUp, false);
  await s.stop();
});
