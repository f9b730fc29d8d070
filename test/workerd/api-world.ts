/**
 * The API Worker in workerd (Miniflare) with its KV namespace, R2 bucket and Durable Objects, bundled
 * by wrangler from wrangler.toml as `npm start` and a deploy bundle it; optionally beside the ledger
 * harness and on an on-disk persistence directory (the layout `wrangler dev` uses).
 */
import type { Readable } from 'node:stream';
import { Miniflare, type WorkerOptions } from 'miniflare';
import { createApiKey, revokeApiKey, type ApiScope } from '../../engine/auth/api-key.js';
import { REPO_ROOT } from '../support/goldens.js';
import type { LedgerCall } from './ledger-call.js';
import { bundleWorker, COMPAT } from './miniflare-bundle.js';

/** The KV namespace id of wrangler.toml's KEYS binding. */
export const KEYS_NAMESPACE = 'nnsam-keys';

/** A running API. */
export interface ApiWorld {
  mf: Miniflare;
  /** Sends a request to the API Worker. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Creates an API key for `tenant` directly in the KEYS namespace. */
  key(tenant: string, scopes?: ApiScope[]): Promise<string>;
  /** Revokes the API key `token` in the KEYS namespace, as `nnsam keys revoke` does. */
  revokeKey(token: string): Promise<void>;
  /** Calls the ledger harness (only with `ledgerHarness`). */
  ledger<T>(call: LedgerCall): Promise<T>;
  dispose(): Promise<void>;
}

// One wrangler bundle per output folder and process: a test file that restarts the API reuses it.
const bundles = new Map<string, ReturnType<typeof bundleWorker>>();
function bundleOnce(config: string, outDir: string): ReturnType<typeof bundleWorker> {
  if (!bundles.has(outDir)) bundles.set(outDir, bundleWorker(config, outDir));
  return bundles.get(outDir)!;
}

/** Bindings of the API Worker as wrangler.toml declares them. */
export function apiWorkerOptions(vars: Record<string, string>, outDir: string): WorkerOptions {
  return {
    name: 'api',
    ...bundleOnce(`${REPO_ROOT}wrangler.toml`, outDir),
    ...COMPAT,
    bindings: { KERNEL_MEMORY_MB: '64', ...vars },
    // The page (wrangler.toml [assets], which `npm run build:web` writes); a path without an asset
    // goes on to the API, as wrangler dev and Cloudflare route it.
    assets: { directory: `${REPO_ROOT}dist/web`, routerConfig: { has_user_worker: true } },
    kvNamespaces: { KEYS: KEYS_NAMESPACE },
    r2Buckets: { UPLOADS: 'nnsam-uploads', RESULTS: 'nnsam-results', MODELS: 'nnsam-models' },
    durableObjects: {
      UPLOAD_SESSIONS: { className: 'UploadSession', useSQLite: true },
      JOBS: { className: 'JobRunner', useSQLite: true },
      LEDGER: { className: 'TenantLedger', useSQLite: true },
      UPLOAD_TOKENS: { className: 'UploadToken', useSQLite: true },
    },
  };
}

/**
 * Starts the API (and the ledger harness) in workerd. `name` names the bundle folder: one per test
 * file, since files run in parallel. `persistTo` is like `wrangler dev --persist-to`.
 */
export async function startApi(
  name: string,
  options: {
    vars?: Record<string, string>;
    ledgerHarness?: boolean;
    persistTo?: string;
    /** Receives workerd's stdout and stderr (the Worker's logs) instead of this process's stdout. */
    onStdio?: (text: string) => void;
  } = {},
): Promise<ApiWorld> {
  const workers: WorkerOptions[] = [apiWorkerOptions(options.vars ?? {}, `${REPO_ROOT}dist/workerd-${name}`)];
  if (options.ledgerHarness) {
    workers.push({
      name: 'ledger-harness',
      ...bundleOnce(
        `${REPO_ROOT}test/workerd/ledger-harness.wrangler.toml`,
        `${REPO_ROOT}dist/workerd-${name}-harness`,
      ),
      ...COMPAT,
      durableObjects: { LEDGER: { className: 'TenantLedger', scriptName: 'api', useSQLite: true } },
    });
  }
  const persist = options.persistTo ? `${options.persistTo}/v3` : undefined;
  const onStdio = options.onStdio;
  const mf = new Miniflare({
    workers,
    ...(onStdio && {
      handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
        for (const stream of [stdout, stderr]) stream.on('data', (b: Buffer) => onStdio(b.toString('utf8')));
      },
    }),
    ...(persist && {
      kvPersist: `${persist}/kv`,
      r2Persist: `${persist}/r2`,
      durableObjectsPersist: `${persist}/do`,
    }),
  });
  await mf.ready;
  const kv = await mf.getKVNamespace('KEYS', 'api');
  return {
    mf,
    fetch: (path, init) =>
      mf.dispatchFetch(`http://localhost${path}`, init as never) as unknown as Promise<Response>,
    key: async (tenant, scopes = ['uploads', 'jobs', 'usage']) =>
      (await createApiKey(kv as never, { tenant, scopes, name: 'test' })).token,
    revokeKey: async (token) => void (await revokeApiKey(kv as never, token.split('_')[1])),
    ledger: async <T>(call: LedgerCall) => {
      const harness = await mf.getWorker('ledger-harness');
      const res = await harness.fetch('http://harness/', { method: 'POST', body: JSON.stringify(call) });
      if (res.status !== 200) throw new Error(`ledger harness: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    dispose: () => mf.dispose(),
  };
}
