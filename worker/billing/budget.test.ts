import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { budgetExceeded } from './budget.js';
import { monthOf } from './ledger-types.js';

describe('budgetExceeded', () => {
  it('is 402 budget_exceeded, saying the most the request may cost, the spent and the held amounts', () => {
    const refused = {
      kind: 'over_budget',
      budget_micros: 1_000,
      spent_micros: 900,
      reserved_micros: 60,
    } as const;
    const err = budgetExceeded(refused, 50);
    assert.equal(err.code, 'budget_exceeded');
    assert.equal(err.status, 402);
    assert.equal(
      err.message,
      'This request may cost up to 50 micro-units: with 900 spent this month and 60 held by running requests, that would exceed the monthly budget of 1000.',
    );
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
