/**
 * @module
 * The 402 check made before a job is accepted.
 */
import { PaymentRequiredError } from '../http-errors.js';
import type { BudgetStatus } from './ledger-types.js';

/** Throws 402 `budget_exceeded` when a job estimated at `estimateMicros` would pass the monthly budget. */
export async function assertWithinBudget(
  env: Env,
  tenant: string,
  estimateMicros: number,
  now: number,
): Promise<BudgetStatus> {
  const status = await env.LEDGER.getByName(tenant).budget(now, estimateMicros);
  if (!status.allowed) {
    throw new PaymentRequiredError(
      `This job (${estimateMicros} micro-units) would exceed the monthly budget: ` +
        `${status.spent_micros} of ${status.budget_micros} spent.`,
    );
  }
  return status;
}
