/**
 * @module
 * One Durable Object per upload token. Verification, revocation and every spending of the grant go
 * through it, so a revocation holds from the next request on (no cache to wait for), and two
 * requests racing for the last bytes or the last job cannot both win: each method reads and writes
 * its storage without awaiting anything else in between, which the object's input gate serialises.
 */
import { constantTimeEqual } from '../../engine/edge.js';
import { DurableObject } from 'cloudflare:workers';
import type { SpendResult, UploadTokenGrant, UploadTokenRecord } from '../tokens/upload-token-types.js';

// Compared against when there is no record, so that unknown and wrong tokens cost the same work.
const NO_DIGEST = '0'.repeat(64);

const grantOf = ({ sha256: _, ...grant }: UploadTokenRecord): UploadTokenGrant => grant;

/** A token's grant and what has been spent of it; everything is deleted at its expiry. */
export class UploadToken extends DurableObject<Env> {
  /** Stores a new token; a second mint of the same id keeps the first (ids are random). */
  async mint(record: UploadTokenRecord): Promise<UploadTokenGrant> {
    const existing = await this.ctx.storage.get<UploadTokenRecord>('token');
    if (existing) return grantOf(existing);
    await this.ctx.storage.put('token', record);
    await this.ctx.storage.setAlarm(record.expires_at);
    return grantOf(record);
  }

  /** The grant of the token whose SHA-256 is `sha256`; null when unknown, wrong, expired or revoked. */
  async verify(sha256: string, now: number): Promise<UploadTokenGrant | null> {
    const record = await this.live(now);
    const match = constantTimeEqual(sha256, record?.sha256 ?? NO_DIGEST);
    return record && match ? grantOf(record) : null;
  }

  /** Revokes the token if it is `tenant`'s; false when it is not (or is gone already). */
  async revoke(tenant: string, now: number): Promise<boolean> {
    const record = await this.ctx.storage.get<UploadTokenRecord>('token');
    if (!record || record.tenant !== tenant || now >= record.expires_at) return false;
    record.revoked_at ??= now;
    await this.ctx.storage.put('token', record);
    return true;
  }

  /** Counts `bytes` (an upload's declared length) against the byte limit. */
  async spendBytes(bytes: number, now: number): Promise<SpendResult> {
    return this.spend(now, (r) => {
      if (r.bytes_used + bytes > r.max_bytes) return { used: r.bytes_used, max: r.max_bytes };
      r.bytes_used += bytes;
      return null;
    });
  }

  /** Counts one job against the job limit. */
  async spendJob(now: number): Promise<SpendResult> {
    return this.spend(now, (r) => {
      if (r.jobs_used >= r.max_jobs) return { used: r.jobs_used, max: r.max_jobs };
      r.jobs_used += 1;
      return null;
    });
  }

  /** Gives back a job counted for a request that created none (refused after, or a replay). */
  async refundJob(): Promise<void> {
    const record = await this.ctx.storage.get<UploadTokenRecord>('token');
    if (!record || record.jobs_used === 0) return;
    record.jobs_used -= 1;
    await this.ctx.storage.put('token', record);
  }

  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }

  private async spend(
    now: number,
    take: (r: UploadTokenRecord) => { used: number; max: number } | null,
  ): Promise<SpendResult> {
    const record = await this.live(now);
    if (!record) return { kind: 'gone' };
    const refused = take(record);
    if (refused) return { kind: 'limit', ...refused };
    await this.ctx.storage.put('token', record);
    return { kind: 'ok', grant: grantOf(record) };
  }

  private async live(now: number): Promise<UploadTokenRecord | null> {
    const record = await this.ctx.storage.get<UploadTokenRecord>('token');
    if (!record || record.revoked_at !== null || now >= record.expires_at) return null;
    return record;
  }
}
