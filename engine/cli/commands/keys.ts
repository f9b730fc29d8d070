/**
 * @module
 * `nnsam keys create|list|revoke`: manages API keys in the local KV persistence that `wrangler dev`
 * serves (`.wrangler/state/v3/kv/<namespace id>`), through Miniflare's own KV implementation, so the
 * records are written exactly as the Worker reads them, with no server running and no admin secret.
 * Against a deployed Worker, write the same records with `wrangler kv key put --remote`.
 */
import { resolve } from 'node:path';
import {
  API_SCOPES,
  createApiKey,
  listApiKeys,
  revokeApiKey,
  type ApiKeyRecord,
  type ApiScope,
  type KeyValueStore,
} from '../../auth/api-key.js';
import { NotFoundError } from '../../errors.js';
import { parseChoice, report, UsageError, type Command } from '../command.js';

/** The id of wrangler.toml's KEYS namespace. */
export const KEYS_NAMESPACE_ID = 'nnsam-keys';

const ACTIONS = ['create', 'list', 'revoke'] as const;

/** Opens the KEYS namespace persisted under `persistTo` (wrangler's `--persist-to`), runs `fn`, closes it. */
async function withKeyStore<T>(persistTo: string, fn: (kv: KeyValueStore) => Promise<T>): Promise<T> {
  // Miniflare is a development dependency: loaded only here, where the local persistence is managed.
  const { Miniflare } = await import('miniflare');
  const mf = new Miniflare({
    modules: true,
    script: 'export default { fetch() { return new Response(null, { status: 404 }); } }',
    kvNamespaces: { KEYS: KEYS_NAMESPACE_ID },
    kvPersist: resolve(persistTo, 'v3', 'kv'),
  });
  try {
    return await fn((await mf.getKVNamespace('KEYS')) as unknown as KeyValueStore);
  } finally {
    await mf.dispose();
  }
}

function parseScopes(text: string | undefined): ApiScope[] {
  if (text === undefined) return [...API_SCOPES];
  const scopes = text.split(',').map((s) => s.trim());
  for (const s of scopes) {
    if (!(API_SCOPES as readonly string[]).includes(s)) {
      throw new UsageError(`--scopes takes a comma-separated subset of ${API_SCOPES.join(',')}, got '${s}'`);
    }
  }
  return scopes as ApiScope[];
}

const line = (r: Omit<ApiKeyRecord, 'sha256'>) =>
  `${r.id}  ${r.tenant.padEnd(16)}  ${r.scopes.join(',').padEnd(18)}  ${r.created_at}  ${r.revoked_at ? `revoked ${r.revoked_at}` : 'active'}  ${r.name}`;

/** `nnsam keys create|list|revoke`. */
export const keysCommand: Command = {
  name: 'keys',
  summary: 'create, list or revoke API keys in the local wrangler dev persistence',
  usage:
    'keys create --tenant T [--scopes S] [--name N] | keys list [--tenant T] | keys revoke --id ID  [--persist-to DIR]',
  help: [
    ['create|list|revoke', 'what to do'],
    ['--tenant T', 'tenant id (create: required; list: only this tenant)'],
    ['--scopes S', `comma-separated scopes (default: ${API_SCOPES.join(',')})`],
    ['--name N', 'a label for the key (default: the tenant)'],
    ['--id ID', 'revoke: the key id (the 16 hex digits after `nsk_`)'],
    ['--persist-to DIR', "wrangler dev's --persist-to directory (default: .wrangler/state)"],
  ],
  options: {
    tenant: { type: 'string' },
    scopes: { type: 'string' },
    name: { type: 'string' },
    id: { type: 'string' },
    'persist-to': { type: 'string', default: '.wrangler/state' },
  },
  positionals: 1,
  async run(args, io) {
    const action = parseChoice(args.positionals[0], 'action', ACTIONS, 'list');
    const persistTo = String(args.values['persist-to']);
    const tenant = args.values.tenant as string | undefined;
    if (action === 'create') {
      if (!tenant) throw new UsageError('keys create needs --tenant');
      const scopes = parseScopes(args.values.scopes as string | undefined);
      const name = (args.values.name as string | undefined) ?? tenant;
      let created;
      try {
        created = await withKeyStore(persistTo, (kv) => createApiKey(kv, { tenant, scopes, name }));
      } catch (err) {
        if (err instanceof RangeError) throw new UsageError(err.message);
        throw err;
      }
      const { token, record } = created;
      const text = `${token}\n(key ${record.id} for tenant ${record.tenant}, scopes ${record.scopes.join(',')}; shown once, store it now)`;
      report(io, args, { token, ...withoutDigest(record) }, text);
    } else if (action === 'list') {
      const all = await withKeyStore(persistTo, listApiKeys);
      const keys = all.filter((r) => !tenant || r.tenant === tenant).map(withoutDigest);
      report(io, args, keys, keys.length ? keys.map(line).join('\n') : '(no keys)');
    } else {
      const id = args.values.id as string | undefined;
      if (!id) throw new UsageError('keys revoke needs --id');
      const record = await withKeyStore(persistTo, (kv) => revokeApiKey(kv, id));
      if (!record) throw new NotFoundError('key_not_found', `no key ${id} in ${persistTo}`);
      report(io, args, withoutDigest(record), `revoked ${record.id} (tenant ${record.tenant})`);
    }
  },
};

// Listings never show the digest: it is not secret, but nothing needs it outside the store.
function withoutDigest(r: ApiKeyRecord): Omit<ApiKeyRecord, 'sha256'> {
  return {
    id: r.id,
    tenant: r.tenant,
    scopes: r.scopes,
    name: r.name,
    created_at: r.created_at,
    revoked_at: r.revoked_at,
  };
}
