/**
 * Loading a model does not hold its files whole (docs/nnunet-inference.md, "Memory"): verifying a
 * release hashes each file as a stream, and the session factory gets the one buffer read, not a copy.
 * Counted in a child process (registry-memory-probe.ts), not timed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MODELS = fileURLToPath(new URL('../../../models', import.meta.url));
const probe = fileURLToPath(new URL('./registry-memory-probe.js', import.meta.url));

test('verifying a release streams its files, and the session factory gets the weights without a copy', () => {
  const stdout = execFileSync(process.execPath, ['--expose-gc', probe, MODELS, 'nnsam-tinyvit-random'], {
    encoding: 'utf8',
  });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
    weightBytes: number;
    verifyPeakGrowth: number;
    factoryLiveGrowth: number;
  };
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
  assert.ok(r.weightBytes > 10e6, `weights of ${mb(r.weightBytes)}: the probe needs a large file`);
  // Reading the 23 MB weights whole to hash them grew the peak by twice their size (read + copy).
  assert.ok(
    r.verifyPeakGrowth < r.weightBytes / 2,
    `verifying grew the peak by ${mb(r.verifyPeakGrowth)} (weights ${mb(r.weightBytes)})`,
  );
  // One buffer of the weights is alive when the factory runs; a copy would make it two.
  assert.ok(
    r.factoryLiveGrowth < r.weightBytes * 1.25,
    `${mb(r.factoryLiveGrowth)} of ArrayBuffers alive at the factory for ${mb(r.weightBytes)} of weights`,
  );
});
