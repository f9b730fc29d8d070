/**
 * @module
 * One `nnsam segment` in a process of its own (bench/engine-e2e.ts), for the benchmarks that compare
 * whole runs: its pipeline and pure-model times, model calls and peak RSS (VmHWM).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./engine-e2e.js', import.meta.url));

/** What bench/engine-e2e.ts prints. */
export interface SegmentRun {
  /** The label map written. */
  out: string;
  total: number;
  model: number;
  model_calls: number;
  maxRssKB: number;
}

/** Runs `volume` with `model` on `device`; `cliRoot` runs another checkout's built CLI the same way. */
export function segmentRun(
  volume: string,
  model: string,
  device: string,
  extra: string[] = [],
  cliRoot?: string,
): SegmentRun {
  const other = cliRoot ? ['--cli-root', cliRoot] : [];
  const r = spawnSync(process.execPath, [SCRIPT, volume, model, device, ...other, ...extra], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`nnsam segment (${model}, ${device}) failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as SegmentRun;
}
