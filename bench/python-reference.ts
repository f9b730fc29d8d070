import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Took } from './timing.js';

const SCRIPT = fileURLToPath(new URL('../../bench/kernels_ref.py', import.meta.url));

/**
 * The scipy / scikit-image calls nnU-Net makes, timed in Debian's Python on the same shared volumes,
 * one call at a time on request, so that a benchmark can alternate them with its own runs and both
 * sides see the same machine load. Single-threaded BLAS, as the kernels are single-threaded.
 */
export class PythonReference {
  private readonly lines: AsyncIterator<string>;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  /** Starts the Python side; it loads the volumes before answering the first request. */
  static start(env: NodeJS.ProcessEnv = process.env): PythonReference {
    const child = spawn('/usr/bin/python3', [SCRIPT, '--serve'], {
      env: {
        ...env,
        OMP_NUM_THREADS: '1',
        OPENBLAS_NUM_THREADS: '1',
        // glibc adapts its mmap and trim thresholds to the blocks freed so far, up to 32 and 64 MiB,
        // so numpy's calls got faster or slower with what ran before them in the process (issue 14,
        // item 5). Fixed at that limit, every call sees malloc's steady state from the first one.
        GLIBC_TUNABLES: [
          env.GLIBC_TUNABLES,
          'glibc.malloc.mmap_threshold=33554432',
          'glibc.malloc.trim_threshold=67108864',
        ]
          .filter(Boolean)
          .join(':'),
      },
    });
    child.stderr.pipe(process.stderr);
    return new PythonReference(child);
  }

  /** CPU and wall time of one call of the reference for `key` (a case of bench/kernels_ref.py). */
  async time(key: string): Promise<Took> {
    this.child.stdin.write(`${key}\n`);
    const line = await this.lines.next();
    if (line.done) throw new Error(`python reference exited (${this.child.exitCode}) while timing ${key}`);
    const t = JSON.parse(line.value) as { cpu_ms: number; wall_ms: number };
    return { cpuMs: t.cpu_ms, wallMs: t.wall_ms };
  }

  /** Ends the Python side. */
  async close(): Promise<void> {
    this.child.stdin.end();
    if (this.child.exitCode === null) await once(this.child, 'exit');
  }
}
