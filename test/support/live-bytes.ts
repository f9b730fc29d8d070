/**
 * @module
 * Live ArrayBuffer bytes after garbage collection, for the memory probes that run as
 * `node --expose-gc` (test/engine/*-memory-probe.ts): memory counted, not timed.
 */

/** Collects twice (the second frees what the first only found dead) and returns the live bytes. */
export function liveArrayBufferBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
}
