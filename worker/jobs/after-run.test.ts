import assert from 'node:assert/strict';
import { test } from 'node:test';
import { afterRun } from './after-run.js';

test('a charged (done) run is final even when the deadline passed while it was being charged', () => {
  assert.equal(afterRun('done', true), 'finished');
  assert.equal(afterRun('done', false), 'finished');
});

test('otherwise the deadline comes first, then the node refusing the input, then a node failure', () => {
  assert.equal(afterRun('rejected', true), 'timed_out');
  assert.equal(afterRun('failed', true), 'timed_out');
  assert.equal(afterRun('rejected', false), 'refused');
  assert.equal(afterRun('failed', false), 'next_node');
  // Over that node's own limits: the runner records the refusal and tries the next node.
  assert.equal(afterRun('over_node_limit', false), 'next_node');
  assert.equal(afterRun('over_node_limit', true), 'timed_out');
});
