import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ledgerEnv } from '../test-doubles.js';
import { assertWithinBudget } from './budget.js';
import { monthOf, type BudgetStatus } from './ledger-types.js';

describe('assertWithinBudget', () => {
  const status = (allowed: boolean): BudgetStatus => ({
    budget_micros: 1_000,
    spent_micros: 900,
    month_start: 0,
    month_end: 1,
    allowed,
  });

  it("asks the tenant's own ledger about this estimate at this time, and passes a fitting job", async () => {
    const asked: unknown[] = [];
    const env = ledgerEnv((tenant) => ({
      budget: async (now, estimate) => {
        asked.push({ tenant, now, estimate });
        return status(true);
      },
    }));
    assert.deepEqual(await assertWithinBudget(env, 'acme', 50, 1234), status(true));
    assert.deepEqual(asked, [{ tenant: 'acme', now: 1234, estimate: 50 }]);
  });

  it('is 402 budget_exceeded, with the estimate, spent and budget, when the job does not fit', async () => {
    const env = ledgerEnv(() => ({ budget: async () => status(false) }));
    await assert.rejects(assertWithinBudget(env, 'acme', 200, 0), {
      code: 'budget_exceeded',
      status: 402,
      message: 'This job (200 micro-units) would exceed the monthly budget: 900 of 1000 spent.',
    });
  });
});

describe('monthOf (the budget month)', () => {
  const at = (iso: string) => Date.parse(iso);

  it('is the UTC calendar month holding the instant, end exclusive', () => {
    assert.deepEqual(monthOf(at('2026-03-15T12:00:00Z')), {
      start: at('2026-03-01T00:00:00Z'),
      end: at('2026-04-01T00:00:00Z'),
    });
    assert.deepEqual(monthOf(at('2026-03-01T00:00:00Z')).start, at('2026-03-01T00:00:00Z'));
    assert.deepEqual(monthOf(at('2026-02-28T23:59:59.999Z')).end, at('2026-03-01T00:00:00Z'));
  });

  it('crosses the year in December and counts leap days', () => {
    assert.deepEqual(monthOf(at('2026-12-31T23:59:59Z')), {
      start: at('2026-12-01T00:00:00Z'),
      end: at('2027-01-01T00:00:00Z'),
    });
    const feb = monthOf(at('2028-02-10T00:00:00Z'));
    assert.equal((feb.end - feb.start) / 86_400_000, 29);
  });

  it('ignores the local time zone', () => {
    // 23:30 on 31 March in UTC-something is already April in UTC.
    assert.equal(monthOf(at('2026-03-31T23:30:00-02:00')).start, at('2026-04-01T00:00:00Z'));
  });
});
