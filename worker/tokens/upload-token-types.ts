/**
 * @module
 * Upload tokens: short-lived, scoped credentials that a tenant's server hands to a browser. A token
 * is `nut_<id>_<secret>`; the public `id` names its {@link UploadToken} Durable Object, which keeps
 * the SHA-256 of the whole token (never the token), the grant and what has been spent of it.
 */
import { randomBase64Url, UPLOAD_TOKEN_FORMAT } from '../../engine/edge.js';
import { toHex } from '../uploads/upload-types.js';

/** What a token may do and what it has done, without its digest. */
export interface UploadTokenGrant {
  id: string;
  tenant: string;
  /**
   * The API key that minted it: the token lives only while that key does, with the scopes minting
   * needs. Absent on tokens minted before the field existed (they expire within 24 hours).
   */
  key_id?: string;
  /** Models its jobs may use. */
  models: string[];
  /** Sum of the declared lengths of its uploads. */
  max_bytes: number;
  /** Jobs it may create. */
  max_jobs: number;
  /** Recorded with each charge of its jobs in the tenant's ledger. */
  label: string | null;
  /** Epoch milliseconds. */
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  bytes_used: number;
  jobs_used: number;
}

/** A token as its Durable Object stores it. */
export interface UploadTokenRecord extends UploadTokenGrant {
  /** Lower-case hex SHA-256 of the whole token. */
  sha256: string;
}

/** The outcome of spending part of a grant. */
export type SpendResult =
  { kind: 'ok'; grant: UploadTokenGrant } | { kind: 'limit'; used: number; max: number } | { kind: 'gone' };

/** Whether a bearer credential is shaped like an upload token (it may still be wrong). */
export function isUploadToken(bearer: string): boolean {
  return bearer.startsWith('nut_');
}

/** The public id of a well-formed token, or null. */
export function uploadTokenId(token: string): string | null {
  return UPLOAD_TOKEN_FORMAT.exec(token)?.[1] ?? null;
}

/** A new token and its id; the caller stores only the token's SHA-256. */
export function newUploadToken(): { id: string; token: string } {
  const id = toHex(crypto.getRandomValues(new Uint8Array(8)).buffer);
  return { id, token: `nut_${id}_${randomBase64Url(32)}` };
}
