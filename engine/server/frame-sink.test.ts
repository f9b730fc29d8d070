// A run's response body: drain() waits while the client lags and ends when the client reads, when it
// goes away, or when the run's signal aborts (its deadline), so a client that stops reading cannot hold
// a run slot past the deadline.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrameSink } from './frame-sink.js';

const frame = () => ({ type: 'data' as const, body: new Uint8Array(100) });

/** Whether `p` settles within `ms`. */
async function settles(p: Promise<unknown>, ms = 1000): Promise<boolean> {
  return Promise.race([p.then(() => true), sleep(ms).then(() => false)]);
}

test('drain waits while the buffer is full and ends when the client reads', async () => {
  const sink = new FrameSink(() => {}, 64);
  sink.send(frame());
  const waiting = sink.drain(new AbortController().signal);
  assert.equal(await settles(waiting, 100), false, 'waits while nobody reads');
  const reader = sink.stream.getReader();
  await reader.read();
  assert.equal(await settles(waiting), true);
});

test('drain ends when the run aborts, though the client neither reads nor leaves', async () => {
  const sink = new FrameSink(() => {}, 64);
  sink.send(frame());
  const run = new AbortController();
  const waiting = sink.drain(run.signal);
  assert.equal(await settles(waiting, 100), false);
  run.abort(new Error('deadline'));
  assert.equal(await settles(waiting), true, 'the deadline wakes the wait');
  // Already aborted: no wait at all.
  assert.equal(await settles(sink.drain(run.signal), 100), true);
});

test('drain ends and onCancel runs when the client goes away', async () => {
  let cancelled = 0;
  const sink = new FrameSink(() => cancelled++, 64);
  sink.send(frame());
  const waiting = sink.drain(new AbortController().signal);
  await sink.stream.cancel();
  assert.equal(await settles(waiting), true);
  assert.equal(cancelled, 1);
  sink.send(frame()); // after the client left: dropped, no throw
});
