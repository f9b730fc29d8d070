import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../bench/kernels_ref.py', import.meta.url));

/**
 * Times the scipy / scikit-image calls nnU-Net makes, in Debian's Python, on the same shared volumes.
 * Returns the median ms per case name.
 */
export function timePythonReference(cases: string[], runs: number): Record<string, number> {
  const r = spawnSync('/usr/bin/python3', [SCRIPT, '--runs', String(runs), ...cases], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
  });
  if (r.status !== 0) throw new Error(`python reference failed (${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}
