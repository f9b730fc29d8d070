/**
 * @module
 * What a job's runner does once a node's answer has been read. A `done` answer has already been
 * charged and the job marked succeeded (job-runner.ts `receive`), so it stands even when the job's
 * deadline passed meanwhile: the deadline stops runs, not charges already made (docs/billing.md).
 * Treating it as a timeout would reach the ledger's cancel, which would find the charge and recover
 * the job, but with the run's stats, timings and device lost.
 */
import type { RunOutcome } from '../nodes/remote-run.js';

/** `finished`: stop, the job is final; `timed_out`: fail it with job_timeout; `refused`: fail it with
 * the node's 4xx; `next_node`: the node failed, or refused the input as over its own limits
 * (`over_node_limit`, which the runner records first): try the next. */
export type AfterRun = 'finished' | 'timed_out' | 'refused' | 'next_node';

export function afterRun(outcome: RunOutcome['kind'], deadlinePassed: boolean): AfterRun {
  if (outcome === 'done') return 'finished';
  if (deadlinePassed) return 'timed_out';
  return outcome === 'rejected' ? 'refused' : 'next_node';
}
