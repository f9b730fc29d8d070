/**
 * @module
 * One Durable Object per job. It stores the job's state and runs the job from its alarm, so that a
 * run interrupted by an eviction is started again by the platform. A run streams the upload from R2
 * to the best inference node and the node's framed answer back into R2; a node that dies or errs
 * sends the run to the next node. Only a finished result is charged, once (the ledger is keyed by
 * the job id), and the tenant's concurrency slot is released on every way out.
 */
import { AppError, formatModelReference, maxVoxelsWithin, type RunProgress } from '../../engine/edge.js';
import { DurableObject } from 'cloudflare:workers';
import { readConfig, type ApiConfig } from '../config.js';
import { afterRun } from '../jobs/after-run.js';
import {
  CANCEL_MARK_MS,
  fractionOf,
  isFinal,
  jobDevice,
  resultKey,
  type JobInit,
  type JobState,
} from '../jobs/job-types.js';
import { ResultWriter } from '../jobs/result-writer.js';
import { log } from '../log.js';
import { readRun, startRun, type RunOutcome } from '../nodes/remote-run.js';
import { rankNodes } from '../nodes/placement.js';
import { resolveModel, type ModelRelease } from '../catalog/model-catalog.js';
import type { ModelPrice } from '../billing/price.js';

/** Node failures (died, 5xx, unreachable) a job survives before it fails. */
const MAX_NODE_FAILURES = 3;
/** Least time between two progress writes to storage. */
const PROGRESS_WRITE_MS = 300;
/** Storage key of the failure a job is being ended with (finishFailed), until the job is final. */
const FAILING = 'failing';
/**
 * How long past its deadline an unfinished job with no alarm and no run must be to count as
 * stranded: its own deadline timer and alarm have had their turn by then.
 */
const STRANDED_AFTER_MS = 60_000;
/**
 * An alarm this far past its time has been dropped, not delayed: a pending alarm fires within
 * seconds, and six retries back off for about two minutes. (workerd answers null for a dropped
 * alarm since 2026; before, the time it was set for.)
 */
const ALARM_DROPPED_AFTER_MS = 10 * 60_000;
/** After a failed attempt to end a stranded job, reads wait this long before the next one. */
const STRANDED_RETRY_MS = 30_000;

interface RunContext {
  input_key: string;
  price: ModelPrice;
  request_id: string;
  /** The upload's `[nx, ny, nz]` as its header declares it; null when unread, absent on older jobs. */
  input_shape?: number[] | null;
  /** The most voxels its answer may have (absent on older jobs: the work bounds' most). */
  input_max_voxels?: number;
  /**
   * The nodes that refused the input as over their own limits, and the last such 413: a job that
   * waits for a saturated node does not send the input to them again.
   */
  over_limit?: { nodes: string[]; error: NonNullable<JobState['error']> };
}

/** The state of one job, and its runner. */
export class JobRunner extends DurableObject<Env> {
  private readonly config: ApiConfig;
  private abort: AbortController | undefined;
  private removed = false;
  /** Alarm handlers running in this instance (a run, or ending the job). */
  private alarming = 0;
  /** No attempt to end a stranded job before this time (epoch ms). */
  private strandedRetryAt = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = readConfig(env);
  }

  /** Creates the job and schedules its run; a repeat returns the first. */
  async create(init: JobInit): Promise<JobState> {
    const existing = await this.ctx.storage.get<JobState>('job');
    if (existing) return existing;
    const job: JobState = {
      id: init.id,
      tenant: init.tenant,
      model: init.model,
      model_version: init.model_version,
      upload_id: init.upload_id,
      options: init.options,
      idempotency_key: init.idempotency_key,
      token_id: init.token_id,
      label: init.label,
      status: 'queued',
      progress: { stage: 'queued', done: 0, total: 1, fraction: 0 },
      created_at: init.now,
      started_at: null,
      finished_at: null,
      expires_at: init.now + this.config.maxJobSeconds * 1000,
      attempts: 0,
      error: null,
      result: null,
      shape: null,
      voxels: null,
      stats: null,
      charge: null,
      timings_ms: null,
      device: null,
    };
    const run: RunContext = {
      input_key: init.input_key,
      price: init.price,
      request_id: init.request_id,
      input_shape: init.input_shape,
      input_max_voxels: init.input_max_voxels,
    };
    await this.ctx.storage.put({ job, run });
    await this.ctx.storage.setAlarm(init.now);
    return job;
  }

  /** The job as `tenant` sees it (ended first if it was stranded); null when absent or another tenant's. */
  async describe(tenant: string): Promise<JobState | null> {
    const job = await this.ctx.storage.get<JobState>('job');
    if (!job || job.tenant !== tenant) return null;
    return (await this.endStranded(job)) ?? job;
  }

  /**
   * Ends a stranded job as its alarm would have. Cloudflare retries a throwing alarm six times and
   * then drops it, so a job whose every attempt failed (storage failing throughout) stays running
   * with no alarm: uncharged, it would never fail; charged, its paid-for result could never be
   * downloaded. Read well past its deadline with no alarm pending and no run, it is ended here: failed, or
   * recovered with its result if an attempt had charged it (finishFailed, docs/billing.md). The
   * job as it was is answered when that fails too. Null when the job is not stranded.
   */
  private async endStranded(job: JobState): Promise<JobState | null> {
    const now = Date.now();
    if (isFinal(job.status) || this.abort || this.alarming > 0 || now < this.strandedRetryAt) return null;
    if (now < job.expires_at + STRANDED_AFTER_MS) return null;
    const alarm = await this.ctx.storage.getAlarm();
    if ((alarm !== null && alarm > now - ALARM_DROPPED_AFTER_MS) || this.alarming > 0) return null;
    log('warn', 'job_stranded', { job_id: job.id, status: job.status });
    try {
      await this.alarm();
    } catch (err) {
      // Every read (the event stream polls) would try again at once: the ledger or storage is down.
      this.strandedRetryAt = Date.now() + STRANDED_RETRY_MS;
      log('error', 'job_stranded_not_ended', { job_id: job.id, error: String(err) });
      return null;
    }
    return (await this.ctx.storage.get<JobState>('job')) ?? null;
  }

  /**
   * Cancels the job if it is still going (uncharged), then deletes it and its result. A runner may
   * be charging the job right now (an outgoing call lets this request in): the ledger's `cancel`
   * decides which came first, so a deleted job is never charged unless it had finished.
   */
  async remove(tenant: string): Promise<JobState | null> {
    const job = await this.describe(tenant);
    if (!job) return null;
    if (!isFinal(job.status)) {
      // First, so that a failing ledger call leaves the job as it was, running, for a retried DELETE.
      const ledger = this.env.LEDGER.getByName(job.tenant);
      const now = Date.now();
      const found = await ledger.cancel(job.id, now, Math.max(now, job.expires_at) + CANCEL_MARK_MS);
      job.status = found.kind === 'charged' ? 'succeeded' : 'cancelled';
    }
    this.removed = true;
    this.abort?.abort(new Error('job deleted'));
    await this.purge(job);
    return job;
  }

  /** Runs a queued job, or deletes a finished one past its lifetime. */
  override async alarm(): Promise<void> {
    this.alarming++;
    try {
      await this.onAlarm();
    } finally {
      this.alarming--;
    }
  }

  private async onAlarm(): Promise<void> {
    const job = await this.ctx.storage.get<JobState>('job');
    if (!job) return;
    const now = Date.now();
    if (isFinal(job.status)) {
      if (now >= job.expires_at) await this.purge(job);
      else await this.ctx.storage.setAlarm(job.expires_at);
      return;
    }
    // A failure decided before a crash is finished, never rerun: the ledger may already hold its
    // cancel mark, which would refuse a rerun's charge and make the runner purge the job.
    const failing = await this.ctx.storage.get<NonNullable<JobState['error']>>(FAILING);
    if (failing) return this.finishFailed(job, failing);
    if (now >= job.expires_at) return this.timedOut(job);
    const run = (await this.ctx.storage.get<RunContext>('run'))!;
    await this.run(job, run);
  }

  private async run(job: JobState, run: RunContext): Promise<void> {
    job.status = 'running';
    job.started_at ??= Date.now();
    await this.save(job);
    const abort = (this.abort = new AbortController());
    const timer = setTimeout(
      () => abort.abort(new Error('job deadline')),
      Math.max(0, job.expires_at - Date.now()),
    );
    try {
      await this.place(job, run, abort.signal);
    } catch (err) {
      if (this.removed) return;
      if (!abort.signal.aborted) throw err;
      await this.timedOut(job);
    } finally {
      clearTimeout(timer);
      this.abort = undefined;
    }
  }

  /**
   * Tries the nodes, best first, until one finishes the run, the input is refused, or all fail. A
   * node's 413 for one of its own limits sends the run to the next node (each node has its own
   * limits), and later passes (after waiting for a saturated node) skip it.
   */
  private async place(job: JobState, run: RunContext, signal: AbortSignal): Promise<void> {
    let release: ModelRelease;
    try {
      // Jobs stored before versions run the current release, and from now on report it.
      release = resolveModel(
        job.model_version ? formatModelReference(job.model, job.model_version) : job.model,
      );
    } catch (err) {
      // The release was withdrawn by a deploy between admission and this run.
      if (!(err instanceof AppError)) throw err;
      return this.finishFailed(job, { status: err.status, code: err.code, detail: err.message });
    }
    job.model_version = release.version;
    const nodes = await rankNodes(this.config.inferenceNodes, this.config.nodeToken, {
      preferGpu: release.manifest.prefers_gpu === true,
      release,
    });
    let saturated: number | null = null;
    let failures = 0;
    // A node's 413 is over that node's limits, not necessarily the next one's.
    const refusedBy = async (node: string, error: NonNullable<JobState['error']>) => {
      log('warn', 'node_refused', { job_id: job.id, node, code: error.code });
      run.over_limit = { nodes: [...(run.over_limit?.nodes ?? []), node], error };
      await this.ctx.storage.put('run', run);
    };
    for (const node of nodes) {
      if (this.removed) return;
      if (run.over_limit?.nodes.includes(node)) continue;
      const input = await this.env.UPLOADS.get(run.input_key);
      if (!input) {
        return this.finishFailed(job, {
          status: 410,
          code: 'upload_gone',
          detail: 'The upload expired or was deleted before the job ran.',
        });
      }
      job.attempts++;
      const start = await startRun(
        node,
        {
          model: release.reference,
          format: 'nifti',
          ...job.options,
          requestId: run.request_id,
          // The node stops the run at the job's deadline, as one-shots' are stopped at theirs: a run
          // the job can no longer use must not hold the node's slot to the node's own limit.
          deadlineMs: Math.max(1, job.expires_at - Date.now()),
        },
        input.body,
        this.config.nodeToken,
        signal,
      );
      if (start.kind === 'saturated') {
        job.attempts--;
        saturated = Math.max(saturated ?? 0, start.retryAfterSeconds);
        continue;
      }
      if (start.kind === 'over_node_limit') {
        job.attempts--;
        await refusedBy(node, start.error);
        continue;
      }
      if (start.kind === 'rejected') return this.finishFailed(job, start.error);
      if (start.kind === 'failed') {
        log('warn', 'node_failed', { job_id: job.id, reason: start.reason, attempt: job.attempts });
        if (++failures >= MAX_NODE_FAILURES) break;
        continue;
      }
      const outcome = await this.receive(job, run, start.response);
      if (this.removed) return;
      const next = afterRun(outcome.kind, signal.aborted);
      if (next === 'finished') return;
      if (next === 'timed_out') throw signal.reason;
      if (outcome.kind === 'rejected') return this.finishFailed(job, outcome.error);
      if (outcome.kind === 'over_node_limit') {
        await refusedBy(node, outcome.error);
        continue;
      }
      if (outcome.kind !== 'failed') return;
      log('warn', 'node_failed', { job_id: job.id, reason: outcome.reason, attempt: job.attempts });
      if (++failures >= MAX_NODE_FAILURES) break;
    }
    if (saturated !== null && failures < MAX_NODE_FAILURES) {
      // Every reachable node is full: wait for the busiest's hint, within the job's deadline.
      job.status = 'queued';
      job.progress = { stage: 'waiting', done: 0, total: 1, fraction: 0 };
      await this.save(job);
      // Never past the deadline: that alarm then ends the job as timed out, on time.
      await this.ctx.storage.setAlarm(Math.min(Date.now() + saturated * 1000, job.expires_at));
      return;
    }
    // A node found the input over its limits and no node took it: that is the input's answer.
    if (run.over_limit) return this.finishFailed(job, run.over_limit.error);
    return this.finishFailed(job, {
      status: 503,
      code: 'no_inference_node',
      detail:
        this.config.inferenceNodes.length === 0
          ? 'No inference node is configured.'
          : nodes.length === 0
            ? `No inference node holds ${formatModelReference(release.id, release.version)}; the job was not charged.`
            : `No inference node could run the job (${failures} failed); it was not charged.`,
    });
  }

  /** Reads one node's answer into R2; on success charges the job and marks it succeeded. */
  private async receive(job: JobState, run: RunContext, response: Response): Promise<RunOutcome> {
    const key = resultKey(job.tenant, job.id);
    const writer = new ResultWriter(this.env.RESULTS, key, {
      httpMetadata: { contentType: 'application/gzip' },
      customMetadata: { tenant: job.tenant, job: job.id },
    });
    let lastWrite = 0;
    const outcome = await readRun(
      response,
      {
        progress: async (p: RunProgress) => {
          // A node repeats its last progress every 2 s as a heartbeat: nothing new to store.
          const was = job.progress;
          if (was.stage === p.stage && was.done === p.done && was.total === p.total) return;
          job.progress = { ...p, fraction: fractionOf(p) };
          const now = Date.now();
          if (now - lastWrite >= PROGRESS_WRITE_MS) {
            lastWrite = now;
            await this.save(job);
          }
        },
        meta: (m) => {
          job.shape = m.shape;
          job.voxels = m.voxels;
          job.warnings = m.warnings ?? [];
        },
        data: (bytes) => writer.write(bytes),
      },
      {
        // place() has set the release this run was asked for.
        id: job.model,
        version: job.model_version!,
        format: 'nifti',
        shape: run.input_shape ?? null,
        maxVoxels: run.input_max_voxels ?? maxVoxelsWithin(this.config.work),
      },
    );
    if (outcome.kind !== 'done' || this.removed) {
      await writer.abort();
      return outcome;
    }
    await writer.finish();
    if (this.removed) {
      await this.env.RESULTS.delete(key);
      return { kind: 'failed', reason: 'job deleted' };
    }
    // Charged before the job is marked succeeded: a crash in between re-runs the job, and the
    // ledger's job-id key turns the second charge into a no-op, or, if the rerun fails,
    // finishFailed finds this charge and keeps this result.
    const charged = await this.env.LEDGER.getByName(job.tenant).record({
      job_id: job.id,
      idempotency_key: job.idempotency_key,
      // Jobs stored before tokens existed have no label.
      label: job.label ?? null,
      model: job.model,
      model_version: job.model_version ?? null,
      voxels: outcome.meta.voxels,
      price: run.price,
      at: Date.now(),
    });
    if (charged.kind === 'cancelled') {
      // Deleted meanwhile (remove cancelled it in the ledger): nothing was charged and nothing is
      // kept. Purged here too, so that a runner in an instance that never saw the delete (its purge
      // failed, then an alarm ran the job) stops instead of trying the next node.
      this.removed = true;
      await this.purge(job);
      return { kind: 'failed', reason: 'job deleted' };
    }
    if (charged.kind === 'superseded') {
      // A job's key is never rebound (admission replays it), so this is a fault, never a free result.
      await this.env.RESULTS.delete(key);
      await this.finishFailed(job, {
        status: 409,
        code: 'idempotency_key_reused',
        detail: "This job's Idempotency-Key belongs to another request; the job was not charged.",
      });
      return { kind: 'rejected', error: job.error! };
    }
    job.status = 'succeeded';
    job.progress = { stage: 'done', done: 1, total: 1, fraction: 1 };
    job.result = { bytes: writer.bytes, content_type: outcome.meta.content_type };
    job.stats = outcome.end.stats;
    job.timings_ms = outcome.end.timings_ms;
    job.device = jobDevice(outcome.end.runtime);
    job.charge = { amount_micros: charged.charge.amount_micros, currency: charged.charge.currency };
    await this.finish(job);
    return outcome;
  }

  private timedOut(job: JobState): Promise<void> {
    return this.finishFailed(job, { status: 504, code: 'job_timeout', detail: 'The job ran out of time.' });
  }

  /**
   * Ends a job that did not finish in this attempt. The ledger decides (`cancel`), as for a delete:
   * uncharged, the job fails with `error` and can no longer be charged; charged, an earlier attempt
   * had finished and charged it and only its bookkeeping failed afterwards (a storage or ledger call
   * after the charge threw, or the object was evicted, and the alarm's rerun then timed out, lost its
   * nodes or found the upload gone), so it succeeds with the result that attempt wrote before the
   * charge (docs/billing.md). Without this a rerun's failure would delete a paid-for result.
   */
  private async finishFailed(job: JobState, error: NonNullable<JobState['error']>): Promise<void> {
    if (this.removed) return;
    // Stored before the ledger's cancel, so that a crash after it ends in this failure (alarm).
    await this.ctx.storage.put(FAILING, error);
    const now = Date.now();
    const found = await this.env.LEDGER.getByName(job.tenant).cancel(
      job.id,
      now,
      Math.max(now, job.expires_at) + CANCEL_MARK_MS,
    );
    // A delete may have come in during the call and purged the job; it stays purged.
    if (this.removed) return;
    const stored =
      found.kind === 'charged' ? await this.env.RESULTS.head(resultKey(job.tenant, job.id)) : null;
    if (this.removed) return;
    if (found.kind === 'charged' && stored) {
      log('warn', 'job_recovered', { job_id: job.id, instead_of: error.code });
      job.status = 'succeeded';
      job.error = null;
      job.progress = { stage: 'done', done: 1, total: 1, fraction: 1 };
      job.result = {
        bytes: stored.size,
        content_type: stored.httpMetadata?.contentType ?? 'application/gzip',
      };
      job.charge = { amount_micros: found.charge.amount_micros, currency: found.charge.currency };
      // What was charged for; the earlier attempt's stats, timings and device were lost with it.
      job.voxels = found.charge.voxels;
      return this.finish(job);
    }
    // Charged with no result cannot happen (the result is written before the charge); were it to,
    // it is logged for an operator rather than answered as a success.
    if (found.kind === 'charged') log('error', 'charged_without_result', { job_id: job.id });
    job.status = 'failed';
    job.error = error;
    await this.env.RESULTS.delete(resultKey(job.tenant, job.id));
    await this.finish(job);
  }

  /** Final state: release the slot, keep the job for its result lifetime. */
  private async finish(job: JobState): Promise<void> {
    job.finished_at = Date.now();
    job.expires_at = job.finished_at + this.config.resultTtlSeconds * 1000;
    await this.env.LEDGER.getByName(job.tenant).release(job.id);
    await this.save(job);
    await this.ctx.storage.delete(['run', FAILING]);
    await this.ctx.storage.setAlarm(job.expires_at);
    log('info', 'job_finished', {
      job_id: job.id,
      status: job.status,
      attempts: job.attempts,
      ...(job.error && { code: job.error.code }),
    });
  }

  private async save(job: JobState): Promise<void> {
    if (!this.removed) await this.ctx.storage.put('job', job);
  }

  private async purge(job: JobState): Promise<void> {
    await this.env.RESULTS.delete(resultKey(job.tenant, job.id));
    await this.env.LEDGER.getByName(job.tenant).release(job.id);
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }
}
