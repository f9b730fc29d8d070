// Admission: slots are taken synchronously, waiters start in FIFO order, and releasing a waiting or
// running slot (a client that went away) frees its place exactly once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunQueue, SlotReleasedError } from './run-queue.js';

test('concurrency and queue bound the admitted runs', async () => {
  const q = new RunQueue(1, 2);
  const a = q.tryAcquire()!;
  const b = q.tryAcquire()!;
  const c = q.tryAcquire()!;
  assert.equal(q.tryAcquire(), null, 'saturated at concurrency + queue');
  assert.deepEqual([a.waiting, b.waiting, c.waiting], [false, true, true]);
  assert.deepEqual([q.running, q.queued], [1, 2]);
  const started: string[] = [];
  void b.ready.then(() => started.push('b'));
  void c.ready.then(() => started.push('c'));
  a.release();
  a.release(); // idempotent
  await b.ready;
  assert.deepEqual(started, ['b']);
  assert.deepEqual([q.running, q.queued, b.waiting], [1, 1, false]);
  b.release();
  await c.ready;
  assert.deepEqual(started, ['b', 'c']);
  c.release();
  assert.deepEqual([q.running, q.queued], [0, 0]);
});

test('a waiter released before its turn leaves the queue and its ready rejects', async () => {
  const q = new RunQueue(1, 1);
  const a = q.tryAcquire()!;
  const b = q.tryAcquire()!;
  b.release();
  await assert.rejects(b.ready, SlotReleasedError);
  assert.deepEqual([q.running, q.queued], [1, 0]);
  a.release();
  assert.deepEqual([q.running, q.queued], [0, 0]);
  assert.throws(() => new RunQueue(0, 1), RangeError);
  assert.throws(() => new RunQueue(1, -1), RangeError);
});
