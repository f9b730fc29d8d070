/**
 * @module
 * Work a request must finish even if its client hangs up. On Cloudflare a client that disconnects
 * ends the request's invocation: its pending calls are cancelled and the code awaiting them never
 * runs again. Only work handed to `waitUntil` goes on, for up to 30 s (docs/billing.md, "When the
 * connection drops").
 */
import type { Context } from 'hono';
import type { AppEnv } from './app-env.js';
import { log } from './log.js';

/**
 * Hands `work` to the request's `waitUntil` and returns it to be awaited as usual. Use it for a
 * sequence whose half-way state binds something: a stored chunk the client's HEAD must find, a key
 * bound in the ledger whose job must exist.
 */
export function outliveClient<T>(c: Context<AppEnv>, work: Promise<T>): Promise<T> {
  try {
    c.executionCtx.waitUntil(
      work.then(
        () => undefined,
        (err: unknown) => {
          // The request answers a failure while its client is there; after a hang-up only this sees it.
          if (c.req.raw.signal.aborted) {
            log('error', 'failed_after_hangup', { request_id: c.get('requestId'), error: String(err) });
          }
        },
      ),
    );
  } catch {
    // No execution context (a test calling the router directly): awaiting `work` suffices.
  }
  return work;
}
