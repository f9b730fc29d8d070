import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { AdmitInput, AdmitResult } from '../billing/ledger-types.js';
import { PRICE_TABLE_KEY } from '../billing/price.js';
import { readConfig } from '../config.js';
import { ledgerEnv, memoryKv, type LedgerDouble } from '../test-doubles.js';
import { admitRun, idempotencyKeyOf, priceFor, requestFingerprint } from './admission.js';

describe('idempotencyKeyOf', () => {
  it('takes 1 to 255 visible ASCII characters as they are', () => {
    for (const key of ['a', '!', '~', 'demo-0f3a/2026:01', 'k'.repeat(255), '=HYPERLINK("x")']) {
      assert.equal(idempotencyKeyOf(key), key);
    }
  });

  it('is null without the header', () => {
    assert.equal(idempotencyKeyOf(undefined), null);
  });

  it('is 400 for an empty, long, spaced, control or non-ASCII key', () => {
    for (const key of ['', 'k'.repeat(256), 'a b', ' a', 'a\t', 'a\x7f', 'a\x00', '\u00e9', 'ключ', '🔑']) {
      assert.throws(
        () => idempotencyKeyOf(key),
        { code: 'invalid_request', status: 400 },
        JSON.stringify(key),
      );
    }
  });
});

describe('requestFingerprint', () => {
  const job = {
    operation: 'job',
    model: 'brain-wm-2d',
    tta: true,
    upload_id: '6f1c1d52-3c2e-4a53-9b59-4a3a2b0f6f01',
  };
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

  it('is the SHA-256 of the request as JSON with sorted keys, the form stored fingerprints have', async () => {
    assert.equal(
      await requestFingerprint(job),
      sha256(
        '{"model":"brain-wm-2d","operation":"job","tta":true,' +
          '"upload_id":"6f1c1d52-3c2e-4a53-9b59-4a3a2b0f6f01"}',
      ),
    );
  });

  it('does not depend on the order the parts are given in', async () => {
    const reversed = Object.fromEntries(Object.entries(job).reverse());
    assert.equal(await requestFingerprint(reversed), await requestFingerprint(job));
  });

  it('changes with every part: operation, model, each option, the input', async () => {
    const base = await requestFingerprint(job);
    const changed = {
      operation: 'segment',
      model: 'nnsam-tinyvit-random',
      tta: false,
      upload_id: '6f1c1d52-3c2e-4a53-9b59-4a3a2b0f6f02',
    };
    const seen = new Set([base]);
    for (const [key, value] of Object.entries(changed)) {
      const other = await requestFingerprint({ ...job, [key]: value });
      assert.ok(!seen.has(other), `changing ${key} changes the fingerprint`);
      seen.add(other);
    }
    const segment = { operation: 'segment', model: 'brain-wm-2d', format: 'png', tta: true };
    const input = { input_sha256: 'a'.repeat(64) };
    assert.notEqual(
      await requestFingerprint({ ...segment, ...input }),
      await requestFingerprint({ ...segment, ...input, format: 'json' }),
    );
    assert.notEqual(
      await requestFingerprint({ ...segment, ...input }),
      await requestFingerprint({ ...segment, input_sha256: 'b'.repeat(64) }),
    );
  });

  it('tells a part missing, null, or of another type apart', async () => {
    const withoutTta: Record<string, unknown> = { ...job };
    delete withoutTta.tta;
    const prints = await Promise.all([
      requestFingerprint(job),
      requestFingerprint(withoutTta),
      requestFingerprint({ ...job, tta: null }),
      requestFingerprint({ ...job, tta: 'true' }),
      requestFingerprint({ ...job, tta: 1 }),
    ]);
    assert.equal(new Set(prints).size, prints.length);
  });

  it('sees inside nested parts, whatever their key order', async () => {
    const nested = { operation: 'job', model: 'm', options: { tta: true, format: 'png' } };
    assert.notEqual(
      await requestFingerprint(nested),
      await requestFingerprint({ ...nested, options: { tta: true, format: 'json' } }),
    );
    assert.equal(
      await requestFingerprint(nested),
      await requestFingerprint({ ...nested, options: { format: 'png', tta: true } }),
    );
  });
});

describe('priceFor', () => {
  const PRICES =
    '{"currency": "EUR", "models": {"brain-wm-2d": {"base_micros": 7, "per_megavoxel_micros": 3}}}';
  const config = readConfig({ DEFAULT_PRICES: PRICES });

  it('prices a bundled model from the default table while KV has none', async () => {
    assert.deepEqual(
      await priceFor(
        ledgerEnv(() => ({})),
        config,
        'brain-wm-2d',
      ),
      {
        currency: 'EUR',
        base_micros: 7,
        per_megavoxel_micros: 3,
      },
    );
  });

  it('prices from the KV table once there is one', async () => {
    const kv = memoryKv({
      [PRICE_TABLE_KEY]:
        '{"currency": "USD", "models": {"nnsam-tinyvit-random": {"base_micros": 1, "per_megavoxel_micros": 2}}}',
    });
    const env = ledgerEnv(() => ({}), kv);
    assert.deepEqual(await priceFor(env, config, 'nnsam-tinyvit-random'), {
      currency: 'USD',
      base_micros: 1,
      per_megavoxel_micros: 2,
    });
    // The KV table replaces the default whole: brain-wm-2d is not in it.
    await assert.rejects(priceFor(env, config, 'brain-wm-2d'), { code: 'model_not_priced', status: 409 });
  });

  it('is 404 for a model that is not bundled, priced or not', async () => {
    const kv = memoryKv({
      [PRICE_TABLE_KEY]:
        '{"currency": "USD", "models": {"ghost": {"base_micros": 1, "per_megavoxel_micros": 1}}}',
    });
    await assert.rejects(
      priceFor(
        ledgerEnv(() => ({}), kv),
        config,
        'ghost',
      ),
      {
        code: 'model_not_found',
        status: 404,
      },
    );
  });

  it('is 409 model_not_priced for a bundled model without a price', async () => {
    await assert.rejects(
      priceFor(
        ledgerEnv(() => ({})),
        readConfig({}),
        'brain-wm-2d',
      ),
      {
        code: 'model_not_priced',
        status: 409,
      },
    );
  });
});

describe('admitRun', () => {
  const price = { currency: 'USD', base_micros: 500, per_megavoxel_micros: 10 };
  const input = {
    operation: 'job' as const,
    idempotency_key: 'k1',
    fingerprint: 'f'.repeat(64),
    evaluations: 40,
    limit: 4,
    max_evaluations: 100,
    now: 1_000,
    expires_at: 2_000,
  };
  // 2.5 megavoxels at 10 micros each: 500 + 25.
  const args = {
    tenant: 'acme',
    jobId: 'job-1',
    price,
    reserveVoxels: 2_500_000,
    reserveExact: true,
    ...input,
  };

  /** A ledger answering `admit` with `result`, recording every call. */
  function world(result: AdmitResult) {
    const calls: { tenant: string; call: string; args: unknown[] }[] = [];
    const ledger = (tenant: string): LedgerDouble => ({
      admit: async (input: AdmitInput) => (calls.push({ tenant, call: 'admit', args: [input] }), result),
      abandon: async (jobId: string) => {
        calls.push({ tenant, call: 'abandon', args: [jobId] });
        return true;
      },
    });
    return { env: ledgerEnv(ledger), calls };
  }

  it("admits in one call to the tenant's ledger, holding the price of the declared voxels", async () => {
    const { env, calls } = world({ kind: 'admitted' });
    assert.deepEqual(await admitRun(env, args), { kind: 'admitted' });
    assert.deepEqual(calls, [
      {
        tenant: 'acme',
        call: 'admit',
        args: [{ job_id: 'job-1', ...input, reserve_micros: 525, reserve_exact: true }],
      },
    ]);
  });

  it('is 402 budget_exceeded when the ledger finds the budget held, with nothing to give back', async () => {
    const { env, calls } = world({
      kind: 'over_budget',
      budget_micros: 1_000,
      spent_micros: 800,
      reserved_micros: 0,
    });
    await assert.rejects(admitRun(env, args), {
      code: 'budget_exceeded',
      status: 402,
      message: /may cost up to 525 micro-units: with 800 spent this month and 0 held/,
    });
    assert.deepEqual(
      calls.map((c) => c.call),
      ['admit'],
    );
  });

  it('is 429 concurrency_limit when the budget would fit but for what running requests hold', async () => {
    const held: AdmitResult = {
      kind: 'budget_held',
      budget_micros: 1_000,
      spent_micros: 100,
      reserved_micros: 600,
    };
    await assert.rejects(admitRun(world(held).env, args), {
      code: 'concurrency_limit',
      status: 429,
      headers: { 'Retry-After': '2' },
      message: /hold 600 micro-units of the monthly budget until they end; this one may cost up to 525/,
    });
  });

  it('answers a replay as the ledger gives it', async () => {
    const replay: AdmitResult = { kind: 'replay', job_id: 'job-0', charge: null };
    assert.deepEqual(await admitRun(world(replay).env, args), replay);
  });

  it('is 429 concurrency_limit with Retry-After when the slots or the work are taken', async () => {
    await assert.rejects(admitRun(world({ kind: 'busy', active: 4 }).env, args), {
      code: 'concurrency_limit',
      status: 429,
      headers: { 'Retry-After': '2' },
      message: '4 of 4 concurrent runs are going; retry later.',
    });
    await assert.rejects(admitRun(world({ kind: 'work_busy', active_evaluations: 90 }).env, args), {
      code: 'concurrency_limit',
      status: 429,
      message:
        "The tenant's running requests already imply 90 of 100 network evaluations; this one needs 40. Retry later.",
    });
  });

  it('is 409 idempotency_key_in_flight while the first request runs', async () => {
    await assert.rejects(admitRun(world({ kind: 'in_flight', job_id: 'job-0' }).env, args), {
      code: 'idempotency_key_in_flight',
      status: 409,
      headers: { 'Retry-After': '2' },
    });
  });

  it('is 422 idempotency_key_reused, naming what the key was first used for', async () => {
    await assert.rejects(admitRun(world({ kind: 'key_reused', operation: 'job' }).env, args), {
      code: 'idempotency_key_reused',
      status: 422,
      message: 'This Idempotency-Key was used with a different request (a job); use a new key.',
    });
    await assert.rejects(admitRun(world({ kind: 'key_reused', operation: 'segment' }).env, args), {
      message: /\(a one-shot segmentation\)/,
    });
  });
});
