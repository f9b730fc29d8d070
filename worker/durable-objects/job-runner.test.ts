// A job stranded by its alarm's exhausted retries (Cloudflare drops an alarm after six throwing
// retries) is ended when it is read: failed when uncharged, recovered with its result when an
// attempt had charged it. A job that is not stranded (an alarm pending, a run going, within its
// deadline's grace) is answered as stored, with no ledger call. Miniflare cannot exhaust an
// alarm's retries, so the runner runs here under Node with its storage and bindings in memory
// (worker/test-shims/cloudflare-workers.ts stands in for its base class).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFinal, type JobState } from '../jobs/job-types.js';
import { JobRunner } from './job-runner.js';

const TENANT = 'acme';
const HOUR = 3600_000;

const PRICE = { currency: 'USD', base_micros: 1, per_megavoxel_micros: 1 };

/**
 * A runner over in-memory storage, a ledger whose `cancel` answers `charged` or not, and a result
 * store; its job made by its own `create`, then left `status` until `expiresAt` with `alarm` pending.
 */
async function runner(
  status: JobState['status'],
  expiresAt: number,
  options: {
    alarm?: number | null;
    charged?: boolean;
    ledgerDown?: boolean;
    holdCancel?: Promise<void>;
  } = {},
) {
  const calls: string[] = [];
  const data = new Map<string, unknown>();
  let alarm: number | null = null;
  const storage = {
    get: async (key: string) => structuredClone(data.get(key)),
    put: async (key: string | Record<string, unknown>, value?: unknown) => {
      const entries = typeof key === 'string' ? { [key]: value } : key;
      for (const [k, v] of Object.entries(entries)) data.set(k, structuredClone(v));
    },
    delete: async (keys: string | string[]) => {
      for (const k of Array.isArray(keys) ? keys : [keys]) data.delete(k);
    },
    deleteAll: async () => data.clear(),
    getAlarm: async () => alarm,
    setAlarm: async (at: number) => void (alarm = at),
    deleteAlarm: async () => void (alarm = null),
  };
  const charge = { job_id: 'job-1', amount_micros: 1234, currency: 'USD', voxels: 4096 };
  const env = {
    LEDGER: {
      getByName: () => ({
        cancel: async () => {
          calls.push('cancel');
          await options.holdCancel;
          if (options.ledgerDown) throw new Error('ledger unavailable');
          return options.charged ? { kind: 'charged', charge } : { kind: 'cancelled' };
        },
        release: async () => void calls.push('release'),
      }),
    },
    RESULTS: {
      head: async () =>
        options.charged ? { size: 99, httpMetadata: { contentType: 'application/gzip' } } : null,
      delete: async () => void calls.push('delete result'),
    },
  } as unknown as Env;
  const job = new JobRunner({ storage } as unknown as DurableObjectState, env);
  await job.create({
    id: 'job-1',
    tenant: TENANT,
    model: 'brain-wm-2d',
    model_version: '1.2.0',
    upload_id: 'u',
    input_key: 'k',
    input_shape: null,
    input_max_voxels: 4096,
    options: { tta: true },
    idempotency_key: null,
    token_id: null,
    label: null,
    price: PRICE,
    request_id: 'r',
    now: expiresAt - HOUR,
  });
  const state = data.get('job') as JobState;
  Object.assign(state, { status, expires_at: expiresAt }, isFinal(status) && { finished_at: expiresAt });
  alarm = options.alarm ?? null;
  return { job, calls, alarm: () => alarm };
}

describe('a stranded job is ended when it is read', () => {
  const longPast = Date.now() - HOUR;

  it('fails an uncharged one as timed out, releasing its slot', async () => {
    const r = await runner('running', longPast);
    const seen = await r.job.describe(TENANT);
    assert.equal(seen?.status, 'failed');
    assert.equal(seen?.error?.code, 'job_timeout');
    assert.deepEqual(r.calls, ['cancel', 'delete result', 'release']);
    assert.ok(r.alarm() !== null, 'its deletion is scheduled with its result lifetime');
    // Read again, it is final: nothing more is done.
    assert.equal((await r.job.describe(TENANT))?.status, 'failed');
    assert.equal(r.calls.length, 3);
  });

  it('recovers a charged one with its result and its charge', async () => {
    const r = await runner('running', longPast, { charged: true });
    const seen = await r.job.describe(TENANT);
    assert.equal(seen?.status, 'succeeded');
    assert.deepEqual(seen?.charge, { amount_micros: 1234, currency: 'USD' });
    assert.deepEqual(seen?.result, { bytes: 99, content_type: 'application/gzip' });
    assert.deepEqual(r.calls, ['cancel', 'release']);
  });

  it('leaves alone a job with an alarm pending, within its grace, or final; and answers as stored if ending fails', async () => {
    const pending = await runner('running', longPast, { alarm: Date.now() + 1000 });
    assert.equal((await pending.job.describe(TENANT))?.status, 'running');
    const recent = await runner('running', Date.now() - 1000);
    assert.equal((await recent.job.describe(TENANT))?.status, 'running');
    const done = await runner('succeeded', longPast);
    assert.equal((await done.job.describe(TENANT))?.status, 'succeeded');
    assert.deepEqual([...pending.calls, ...recent.calls, ...done.calls], []);
    assert.equal(await pending.job.describe('another-tenant'), null);

    const down = await runner('running', longPast, { ledgerDown: true });
    assert.equal((await down.job.describe(TENANT))?.status, 'running');
    assert.deepEqual(down.calls, ['cancel']);
    // The event stream reads every 250 ms: a failed attempt is not repeated at once.
    assert.equal((await down.job.describe(TENANT))?.status, 'running');
    assert.deepEqual(down.calls, ['cancel']);
  });

  it('takes an alarm time long past as dropped (workerd before 2026 kept it)', async () => {
    const r = await runner('running', longPast, { alarm: longPast });
    assert.equal((await r.job.describe(TENANT))?.status, 'failed');
  });

  it('does not end a job its alarm handler is ending (workerd answers no alarm meanwhile)', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const r = await runner('running', longPast, { holdCancel: held });
    const ending = r.job.alarm();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(r.calls, ['cancel'], "the alarm's own ledger call, held");
    assert.equal((await r.job.describe(TENANT))?.status, 'running');
    assert.deepEqual(r.calls, ['cancel'], 'the read started no second ending');
    release();
    await ending;
    assert.equal((await r.job.describe(TENANT))?.status, 'failed');
    assert.deepEqual(r.calls, ['cancel', 'delete result', 'release']);
  });
});
