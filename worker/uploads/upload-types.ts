/**
 * @module
 * What the upload routes and the {@link UploadSession} object exchange over RPC.
 */

/** One accepted chunk: where it starts, how long it is, its SHA-256 (hex). */
export interface ChunkRecord {
  offset: number;
  length: number;
  sha256: string;
}

/** An upload as stored by its Durable Object. */
export interface UploadState {
  id: string;
  tenant: string;
  length: number;
  content_type: string;
  /**
   * Hex SHA-256 of the whole file: declared at creation and checked once the last byte arrives, or,
   * when none was declared, computed then (null until then).
   */
  sha256: string | null;
  /** The tus `Upload-Metadata` header it was created with, answered again on HEAD. */
  metadata?: string | null;
  /** The upload token that created it; null (or absent, before tokens) for an API key. */
  token_id?: string | null;
  /** Epoch milliseconds. */
  created_at: number;
  expires_at: number;
  offset: number;
  /** `verifying` between the last chunk and the whole-file check. */
  state: 'receiving' | 'verifying' | 'complete';
  chunks: ChunkRecord[];
}

/** What `POST /v1/uploads` declares. */
export interface UploadInit {
  id: string;
  tenant: string;
  length: number;
  content_type: string;
  sha256: string | null;
  metadata: string | null;
  token_id: string | null;
  ttl_seconds: number;
  now: number;
}

/** The outcome of one PATCH. */
export type AppendResult =
  | { kind: 'stored' | 'duplicate'; upload: UploadState }
  | { kind: 'offset_conflict'; offset: number }
  | { kind: 'beyond_length'; length: number }
  | { kind: 'too_many_pieces'; max: number; offset: number; length: number; pieceBytes: number }
  | { kind: 'whole_checksum_mismatch'; actual: string }
  | { kind: 'not_found' };

/** R2 key prefix of one upload; the tenant is part of it so that no key crosses tenants. */
export function uploadPrefix(tenant: string, id: string): string {
  return `uploads/${tenant}/${id}/`;
}

/** R2 key of the assembled file of a complete upload. */
export function uploadDataKey(tenant: string, id: string): string {
  return `${uploadPrefix(tenant, id)}data`;
}

/** Lower-case hex of a digest. */
export function toHex(digest: ArrayBuffer): string {
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
