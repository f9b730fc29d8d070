/**
 * @module
 * API keys: the token format, its SHA-256 digest and the record stored per key. Shared by the Worker
 * (which checks keys) and the `nnsam keys` CLI (which writes them), both through {@link KeyValueStore}.
 *
 * A token is `nsk_<id>_<secret>`. The public `id` names the record (`apikey:<id>`), so a lookup is one
 * read; the record holds only the SHA-256 of the whole token, compared in constant time.
 */

/** The scopes a key may hold. */
export const API_SCOPES = ['uploads', 'jobs', 'usage'] as const;
/** One scope. */
export type ApiScope = (typeof API_SCOPES)[number];

/** What is stored per key: never the token itself. */
export interface ApiKeyRecord {
  id: string;
  tenant: string;
  scopes: ApiScope[];
  name: string;
  /** Lower-case hex SHA-256 of the whole token. */
  sha256: string;
  created_at: string;
  revoked_at: string | null;
}

/** The subset of a Workers KV namespace the key store uses (Miniflare's KV has it too). */
export interface KeyValueStore {
  get(key: string, type: 'text'): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
  list(options: { prefix: string; cursor?: string }): Promise<{
    keys: { name: string }[];
    list_complete: boolean;
    cursor?: string;
  }>;
}

const PREFIX = 'apikey:';
const TOKEN = /^nsk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const TENANT = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Lower-case hex SHA-256 of a UTF-8 string. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Equality of two strings in time that depends only on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}

/** True when `tenant` is a valid tenant id (lower-case, digits, `-`, `_`; at most 63 characters). */
export function isTenantId(tenant: string): boolean {
  return TENANT.test(tenant);
}

/** `bytes` random bytes as unpadded base64url (a token's secret part). */
export function randomBase64Url(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...b))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/** Creates a key for `tenant` and stores its record; the token is returned once and never stored. */
export async function createApiKey(
  kv: KeyValueStore,
  options: { tenant: string; scopes: readonly ApiScope[]; name: string; now?: Date },
): Promise<{ token: string; record: ApiKeyRecord }> {
  if (!isTenantId(options.tenant)) throw new RangeError(`invalid tenant id '${options.tenant}'`);
  const id = [...crypto.getRandomValues(new Uint8Array(8))]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('');
  const token = `nsk_${id}_${randomBase64Url(32)}`;
  const record: ApiKeyRecord = {
    id,
    tenant: options.tenant,
    scopes: [...new Set(options.scopes)],
    name: options.name,
    sha256: await sha256Hex(token),
    created_at: (options.now ?? new Date()).toISOString(),
    revoked_at: null,
  };
  await kv.put(PREFIX + id, JSON.stringify(record));
  return { token, record };
}

/** Every stored key record (revoked ones included), oldest first. */
export async function listApiKeys(kv: KeyValueStore): Promise<ApiKeyRecord[]> {
  const out: ApiKeyRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await kv.list({ prefix: PREFIX, cursor });
    for (const k of page.keys) {
      const text = await kv.get(k.name, 'text');
      if (text) out.push(JSON.parse(text) as ApiKeyRecord);
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return out.sort((a, b) => a.created_at.localeCompare(b.created_at));
}

/** Marks a key revoked; resolves to its record, or null when there is no such key. */
export async function revokeApiKey(
  kv: KeyValueStore,
  id: string,
  now = new Date(),
): Promise<ApiKeyRecord | null> {
  const text = await kv.get(PREFIX + id, 'text');
  if (!text) return null;
  const record = JSON.parse(text) as ApiKeyRecord;
  record.revoked_at ??= now.toISOString();
  await kv.put(PREFIX + id, JSON.stringify(record));
  return record;
}

/**
 * The live record of the key whose public id is `id`, or null when there is none or it is revoked:
 * what an upload token minted by that key checks on every request (worker/middleware/auth.ts).
 */
export async function liveApiKeyById(kv: KeyValueStore, id: string): Promise<ApiKeyRecord | null> {
  const text = await kv.get(PREFIX + id, 'text');
  const record = text ? (JSON.parse(text) as ApiKeyRecord) : null;
  return record && record.revoked_at === null ? record : null;
}

// Compared against when the id is unknown, so that unknown and wrong keys cost the same work.
const DUMMY_SHA256 = '0'.repeat(64);

/** The live record of `token`, or null when it is malformed, unknown, wrong or revoked. */
export async function verifyApiKey(kv: KeyValueStore, token: string): Promise<ApiKeyRecord | null> {
  const m = TOKEN.exec(token);
  const digest = await sha256Hex(token);
  const text = m ? await kv.get(PREFIX + m[1], 'text') : null;
  const record = text ? (JSON.parse(text) as ApiKeyRecord) : null;
  const match = constantTimeEqual(digest, record?.sha256 ?? DUMMY_SHA256);
  return record && match && record.revoked_at === null ? record : null;
}
