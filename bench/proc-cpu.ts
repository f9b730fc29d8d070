/**
 * @module
 * CPU time and memory of processes, read from /proc. The benchmarks compare CPU time on this shared
 * machine: wall time there counts the time other processes hold the cores, CPU time does not.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** CPU time (ms) this process has used, all threads. */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** CPU time (ms) process `pid` has used, all threads, from the scheduler's nanosecond counters. */
export function processCpuMs(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended between listing and reading: its time is gone with it.
    }
  }
  return ns / 1e6;
}

/** Peak resident set (VmHWM) of a process, in MB (a node: all its run workers are threads of it). */
export function peakMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** The workerd processes this process started (Miniflare's runtime). */
export function workerdPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === process.pid && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'workerd';
      } catch {
        return false;
      }
    });
}

/** The 1, 5 and 15 minute load averages, as `uptime` prints them. */
export function loadAverages(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(', ');
}

/** Median of `values` (not modified). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
