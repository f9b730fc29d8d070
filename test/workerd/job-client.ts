/** A small client of the job routes for the API tests, and a reader of server-sent events. */
import { parseServerSentEvents, type ServerSentEvent } from '../../engine/client/server-sent-events.js';
import type { ApiJob } from '../../engine/client/api-types.js';
import type { ApiWorld } from './api-world.js';

/** A job as `GET /v1/jobs/:id` returns it (the fields the tests read). */
export interface Job {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  model: string;
  model_version: string | null;
  progress: { stage: string; done: number; total: number; fraction: number };
  attempts: number;
  error: { type: string; status: number; detail: string } | null;
  result: { href: string; bytes: number; content_type: string } | null;
  shape: number[] | null;
  voxels: number | null;
  charge: { amount_micros: number; currency: string } | null;
  device: ApiJob['device'];
}

/** Job routes over one key. */
export function jobClient(w: ApiWorld, key: string) {
  const auth = { authorization: `Bearer ${key}` };
  const get = (id: string) => w.fetch(`/v1/jobs/${id}`, { headers: auth });
  async function waitFor(
    id: string,
    done: (j: Job) => boolean,
    timeoutMs = 300_000,
    pollMs = 50,
  ): Promise<Job> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const res = await get(id);
      if (res.status !== 200) throw new Error(`GET job ${id}: ${res.status} ${await res.text()}`);
      const job = (await res.json()) as Job;
      if (done(job)) return job;
      if (Date.now() > until) throw new Error(`job ${id} stuck: ${JSON.stringify(job)}`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
  return {
    auth,
    create: (body: unknown, idempotencyKey?: string) =>
      w.fetch('/v1/jobs', {
        method: 'POST',
        headers: {
          ...auth,
          'content-type': 'application/json',
          ...(idempotencyKey && { 'idempotency-key': idempotencyKey }),
        },
        body: JSON.stringify(body),
      }),
    get,
    events: (id: string) => w.fetch(`/v1/jobs/${id}/events`, { headers: auth }),
    result: (id: string, range?: string) =>
      w.fetch(`/v1/jobs/${id}/result`, { headers: { ...auth, ...(range && { range }) } }),
    delete: (id: string) => w.fetch(`/v1/jobs/${id}`, { method: 'DELETE', headers: auth }),
    waitFor,
    waitFinal: (id: string, timeoutMs?: number, pollMs?: number) =>
      waitFor(id, (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status), timeoutMs, pollMs),
  };
}

/** Reads a whole text/event-stream response into its events. */
export async function readEvents(res: Response): Promise<ServerSentEvent[]> {
  if (res.status !== 200) throw new Error(`events: ${res.status} ${await res.text()}`);
  if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    throw new Error(`events: content-type ${res.headers.get('content-type')}`);
  }
  const events: ServerSentEvent[] = [];
  for await (const e of parseServerSentEvents(res.body!)) events.push(e);
  return events;
}
