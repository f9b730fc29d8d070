/**
 * @module
 * In-memory stand-ins for the Worker's bindings, for the unit tests beside the worker modules
 * (which run under Node, without workerd). Only what those modules call is there; anything else
 * throws, so a module that starts calling more of a binding fails its tests rather than passing on
 * a silent default.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Hono, Schema } from 'hono';
import { sha256Hex } from '../engine/edge.js';
import type { AppEnv } from './app-env.js';
import type { AdmitInput, AdmitResult } from './billing/ledger-types.js';
import { readConfig } from './config.js';
import { requestId } from './middleware/request-id.js';
import { renderProblem } from './problem.js';
import { newRouter } from './router.js';

/** A KV namespace holding `entries` as text, read through `get(key, 'text')`. */
export function memoryKv(entries: Record<string, string> = {}): KVNamespace {
  const kv = {
    async get(key: string, type?: unknown) {
      if (type !== 'text')
        throw new Error(`memoryKv: get('${key}', ${JSON.stringify(type)}) is not supported`);
      return Object.hasOwn(entries, key) ? entries[key] : null;
    },
  };
  return kv as unknown as KVNamespace;
}

/**
 * A KV namespace holding one live API key, `token` (`nsk_<id>_<secret>`), of `tenant` with `scopes`,
 * as worker/middleware/auth.ts reads it.
 */
export async function apiKeyKv(token: string, tenant: string, scopes: string[]): Promise<KVNamespace> {
  const id = token.split('_')[1];
  const record = {
    id,
    tenant,
    scopes,
    name: 'test',
    sha256: await sha256Hex(token),
    created_at: new Date(0).toISOString(),
    revoked_at: null,
  };
  return memoryKv({ [`apikey:${id}`]: JSON.stringify(record) });
}

/**
 * `routes` behind the app's own request id, config and problem rendering (worker/app.ts), minus the
 * kernels and bindings a test provides itself: for calling a route module with `app.request`.
 */
export function routeApp(routes: Hono<AppEnv, Schema, string>): OpenAPIHono<AppEnv> {
  const app = newRouter();
  app.use('*', requestId, async (c, next) => {
    c.set('config', readConfig(c.env));
    await next();
  });
  app.route('/', routes);
  app.onError(renderProblem);
  return app;
}

/** The part of a tenant's ledger that admission calls. */
export interface LedgerDouble {
  admit?(input: AdmitInput): Promise<AdmitResult>;
  abandon?(jobId: string, now: number, markUntil: number): Promise<boolean>;
}

/** An `Env` whose LEDGER hands out `ledgerOf(tenant)` and whose KEYS is `kv`. */
export function ledgerEnv(ledgerOf: (tenant: string) => LedgerDouble, kv: KVNamespace = memoryKv()): Env {
  const missing = (what: string) => () =>
    Promise.reject(new Error(`ledger double: ${what} was not expected`));
  const env = {
    KEYS: kv,
    LEDGER: {
      getByName: (tenant: string) => ({
        admit: missing('admit'),
        abandon: missing('abandon'),
        ...ledgerOf(tenant),
      }),
    },
  };
  return env as unknown as Env;
}
