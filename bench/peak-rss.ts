/**
 * @module
 * Peak resident memory of this process, for the benchmarks that report it. Linux's VmHWM is the
 * high-water mark of this process's own memory since it started; getrusage's maxRSS is not: a
 * spawned child inherits the RSS its parent had when it forked (measured: a child of a 300 MB
 * process reported 303 MB where VmHWM said 39 MB), so a benchmark that spawns runs from a big
 * process must not use it.
 */
import { readFileSync } from 'node:fs';

/** Peak RSS in KiB: VmHWM where /proc has it, else maxRSS. */
export function peakRssKB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // no /proc: fall through
  }
  return process.resourceUsage().maxRSS;
}
