/** What one call cost. */
export interface Took {
  /** CPU time of the whole process, user + system (page faults count, waiting for a core does not). */
  cpuMs: number;
  /** Wall-clock time. */
  wallMs: number;
}

/** CPU and wall time of one call of `fn`. */
export function took(fn: () => unknown): Took {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn();
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  return { cpuMs: (c.user + c.system) / 1000, wallMs };
}

/** Median of `values` (not empty). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
