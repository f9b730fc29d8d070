// The `auto` rule of `--concurrency`: as many runs as fit on the cores at `--threads` cores each,
// at least one; onnxruntime-web runs single-threaded whatever `--threads` says; WebGPU nodes run one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { autoConcurrency, coresPerRun, resolveConcurrency } from './concurrency.js';

test('auto: floor(cores / threads per run), at least 1', () => {
  const cpu = (cores: number, threads: number): number => autoConcurrency({ cores, threads, device: 'cpu' });
  assert.equal(cpu(2, 1), 2);
  assert.equal(cpu(2, 2), 1);
  assert.equal(cpu(16, 1), 16);
  assert.equal(cpu(16, 3), 5, 'a remainder of cores stays free rather than oversubscribed');
  assert.equal(cpu(16, 4), 4);
  assert.equal(cpu(1, 1), 1);
  assert.equal(cpu(2, 4), 1, 'more threads than cores still runs one');
  for (let cores = 1; cores <= 64; cores++)
    for (let threads = 1; threads <= 8; threads++) {
      const n = cpu(cores, threads);
      assert.ok(n >= 1);
      assert.ok(n === 1 || n * threads <= cores, `${n} runs x ${threads} threads on ${cores} cores`);
      assert.ok((n + 1) * threads > cores, 'no room left for one more run');
    }
});

test('auto: wasm runs use one core whatever --threads says; webgpu nodes run one at a time', () => {
  assert.equal(coresPerRun(4, 'wasm'), 1);
  assert.equal(coresPerRun(4, 'cpu'), 4);
  assert.equal(autoConcurrency({ cores: 8, threads: 4, device: 'wasm' }), 8);
  assert.equal(autoConcurrency({ cores: 16, threads: 1, device: 'webgpu' }), 1);
});

test('a set concurrency is kept as given; a bad one is refused', () => {
  const machine = { cores: 2, threads: 1, device: 'cpu' } as const;
  assert.equal(resolveConcurrency('auto', machine), 2);
  assert.equal(resolveConcurrency(1, machine), 1);
  assert.equal(resolveConcurrency(6, machine), 6, 'an operator may oversubscribe on purpose');
  for (const bad of [0, -1, 1.5, Number.NaN])
    assert.throws(() => resolveConcurrency(bad, machine), RangeError);
});
