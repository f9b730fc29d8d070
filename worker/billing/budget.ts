/**
 * @module
 * The 402 of an admission the tenant's monthly budget refused (the check itself is the ledger's
 * `admit`, in one transaction with the run slot: worker/durable-objects/tenant-ledger.ts).
 */
import { PaymentRequiredError } from '../http-errors.js';
import type { AdmitResult } from './ledger-types.js';

/** 402 `budget_exceeded`, saying what the request may cost and what the month already holds. */
export function budgetExceeded(
  refused: Extract<AdmitResult, { kind: 'over_budget' }>,
  reserveMicros: number,
): PaymentRequiredError {
  return new PaymentRequiredError(
    `This request may cost up to ${reserveMicros} micro-units: with ${refused.spent_micros} spent this month ` +
      `and ${refused.reserved_micros} held by running requests, that would exceed the monthly budget of ` +
      `${refused.budget_micros}.`,
  );
}
