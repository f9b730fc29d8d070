import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/**
 * Runs the ES module `script` in a Node whose heap is `mb` MiB; its stdout once it exits cleanly. A
 * memory bound as a test: an input that makes a reader allocate past its limits kills the child.
 */
export function inHeap(mb: number, script: string): string {
  const r = spawnSync(process.execPath, [`--max-old-space-size=${mb}`, '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  return r.stdout;
}
