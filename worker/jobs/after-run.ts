/**
 * @module
 * What a job's runner does once a node's answer has been read. A `done` answer has already been
 * charged and the job marked succeeded (job-runner.ts `receive`), so it stands even when the job's
 * deadline passed meanwhile: treating it as a timeout would mark a charged job failed and delete its
 * result, a charge for nothing (docs/billing.md).
 */
import type { RunOutcome } from '../nodes/remote-run.js';

/** `finished`: stop, the job is final; `timed_out`: fail it with job_timeout; `refused`: fail it with
 * the node's 4xx; `next_node`: the node failed, try the next. */
export type AfterRun = 'finished' | 'timed_out' | 'refused' | 'next_node';

export function afterRun(outcome: RunOutcome['kind'], deadlinePassed: boolean): AfterRun {
  if (outcome === 'done') return 'finished';
  if (deadlinePassed) return 'timed_out';
  return outcome === 'rejected' ? 'refused' : 'next_node';
}
