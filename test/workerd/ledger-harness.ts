// A test-only Worker bound to the API Worker's TenantLedger class: it calls the ledger's RPC methods
// exactly as the API's own code does, inside workerd.
import type { AdmitInput, ChargeInput } from '../../worker/billing/ledger-types.js';

/** One call (see test/workerd/ledger-call.ts); `record` runs `times` times concurrently inside workerd. */
type HarnessCall =
  | { op: 'record'; tenant: string; input: ChargeInput; times?: number }
  | { op: 'admit'; tenant: string; input: AdmitInput; times?: number }
  | { op: 'release'; tenant: string; job_id: string }
  | { op: 'abandon'; tenant: string; job_id: string; now: number; mark_until: number }
  | { op: 'cancel'; tenant: string; job_id: string; now: number; expires_at: number }
  | { op: 'isRunning'; tenant: string; job_id: string }
  | { op: 'replayOf'; tenant: string; key: string; fingerprint: string }
  | { op: 'usage'; tenant: string; from: number; to: number }
  | { op: 'setBudget'; tenant: string; micros: number | null };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const call = (await request.json()) as HarnessCall;
    const ledger = env.LEDGER.getByName(call.tenant);
    switch (call.op) {
      case 'record': {
        const runs = Array.from({ length: call.times ?? 1 }, () => ledger.record(call.input));
        return Response.json(await Promise.all(runs));
      }
      case 'admit': {
        const runs = Array.from({ length: call.times ?? 1 }, () => ledger.admit(call.input));
        return Response.json(await Promise.all(runs));
      }
      case 'release':
        await ledger.release(call.job_id);
        return Response.json({ ok: true });
      case 'abandon':
        await ledger.abandon(call.job_id, call.now, call.mark_until);
        return Response.json({ ok: true });
      case 'cancel':
        return Response.json(await ledger.cancel(call.job_id, call.now, call.expires_at));
      case 'replayOf':
        return Response.json(await ledger.replayOf(call.key, call.fingerprint));
      case 'isRunning':
        return Response.json(await ledger.isRunning(call.job_id));
      case 'usage':
        return Response.json(await ledger.usage(call.from, call.to));
      case 'setBudget':
        await ledger.setBudget(call.micros);
        return Response.json({ ok: true });
    }
  },
};
