/**
 * @module
 * One Durable Object per resumable upload: the offset, the accepted chunks and the expiry live in its
 * storage, the bytes in R2 (one object per chunk, then one assembled object). Chunks are applied one
 * at a time (an in-object queue), so a duplicate racing its original sees the committed state.
 *
 * Per-chunk objects rather than R2 multipart: multipart parts must be at least 5 MiB and, but the
 * last, all the same size, while clients on bad links want small chunks whose size they may change
 * after an interruption. Once the last byte arrives the chunks are streamed, in order, through a
 * SHA-256 digest into the assembled object (memory: one chunk), then deleted.
 */
import { DurableObject } from 'cloudflare:workers';
import {
  toHex,
  uploadDataKey,
  uploadPrefix,
  type AppendResult,
  type UploadInit,
  type UploadState,
} from '../uploads/upload-types.js';
import { deleteKeys } from '../uploads/r2-delete.js';
import { log } from '../log.js';

/**
 * Most pieces an upload is stored in. Its state lists them in one stored value, rewritten on every
 * piece, and SQLite refuses a value past 2 MB: about 21,500 pieces, after which every PATCH failed
 * and the upload stayed unfinishable (found by review; one-byte PATCHes get there). 10,000 pieces
 * of the web page's 512 KiB, or of a streamed PATCH's 8 MiB, hold far more than MAX_UPLOAD_BYTES;
 * smaller ones are taken while what is left still fits in the pieces left.
 */
export const MAX_UPLOAD_PIECES = 10_000;

const chunkKey = (s: UploadState, offset: number) =>
  `${uploadPrefix(s.tenant, s.id)}chunk/${String(offset).padStart(16, '0')}`;

/** The state and bytes of one resumable upload; gone at its expiry (an alarm deletes everything). */
export class UploadSession extends DurableObject<Env> {
  private queue: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after every earlier queued operation of this upload. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Declares the upload; a second create of the same id returns the first. */
  async create(init: UploadInit): Promise<UploadState> {
    return this.serial(async () => {
      const existing = await this.ctx.storage.get<UploadState>('upload');
      if (existing) return existing;
      const state: UploadState = {
        id: init.id,
        tenant: init.tenant,
        length: init.length,
        content_type: init.content_type,
        sha256: init.sha256,
        metadata: init.metadata,
        token_id: init.token_id,
        created_at: init.now,
        expires_at: init.now + init.ttl_seconds * 1000,
        offset: 0,
        state: 'receiving',
        chunks: [],
      };
      await this.ctx.storage.put('upload', state);
      await this.ctx.storage.setAlarm(state.expires_at);
      return state;
    });
  }

  /**
   * The upload as `tenant` (through upload token `tokenId`, if given) sees it: null when absent,
   * another tenant's or token's, or expired.
   */
  async describe(tenant: string, now: number, tokenId: string | null = null): Promise<UploadState | null> {
    return this.serial(async () => {
      const s = await this.live(tenant, now, tokenId);
      if (s?.state === 'verifying') {
        // The object was evicted between the last chunk and the check: finish it now.
        const r = await this.finish(s);
        return r.kind === 'stored' ? r.upload : null;
      }
      return s;
    });
  }

  /** Applies one chunk whose SHA-256 the caller has already checked against the client's checksum. */
  async append(
    tenant: string,
    chunk: { offset: number; sha256: string; bytes: Uint8Array },
    now: number,
    tokenId: string | null = null,
    /** The largest piece a request may store (MAX_CHUNK_BYTES): what the bound on pieces plans with. */
    maxPieceBytes = Number.MAX_SAFE_INTEGER,
  ): Promise<AppendResult> {
    return this.serial(async () => {
      const s = await this.live(tenant, now, tokenId);
      if (!s) return { kind: 'not_found' };
      const length = chunk.bytes.byteLength;
      if (chunk.offset < s.offset || s.state !== 'receiving') {
        const same = s.chunks.some(
          (c) => c.offset === chunk.offset && c.length === length && c.sha256 === chunk.sha256,
        );
        if (!same) return { kind: 'offset_conflict', offset: s.offset };
        return s.state === 'verifying' ? this.finish(s) : { kind: 'duplicate', upload: s };
      }
      if (chunk.offset > s.offset) return { kind: 'offset_conflict', offset: s.offset };
      if (chunk.offset + length > s.length) return { kind: 'beyond_length', length: s.length };
      // Every upload taken so far can still be finished: a piece is refused only when the bytes after
      // it could not come in the pieces left, each as large as a piece may be (`maxPieceBytes`, the
      // route's MAX_CHUNK_BYTES). Small pieces are taken until then (found by review: refusing every
      // piece but the last once one short of the bound left an upload that no request could end).
      const after = s.length - (chunk.offset + length);
      if (after > 0 && Math.ceil(after / maxPieceBytes) > MAX_UPLOAD_PIECES - 1 - s.chunks.length) {
        return {
          kind: 'too_many_pieces',
          max: MAX_UPLOAD_PIECES,
          offset: s.offset,
          length: s.length,
          pieceBytes: maxPieceBytes,
        };
      }
      await this.env.UPLOADS.put(chunkKey(s, chunk.offset), chunk.bytes, {
        customMetadata: { sha256: chunk.sha256 },
      });
      s.offset += length;
      s.chunks.push({ offset: chunk.offset, length, sha256: chunk.sha256 });
      if (s.offset === s.length) s.state = 'verifying';
      await this.ctx.storage.put('upload', s);
      return s.state === 'verifying' ? this.finish(s) : { kind: 'stored', upload: s };
    });
  }

  /** Deletes the upload and its bytes; false when `tenant` has no such upload. */
  async remove(tenant: string, now: number, tokenId: string | null = null): Promise<boolean> {
    return this.serial(async () => {
      const s = await this.live(tenant, now, tokenId);
      if (s) await this.purge(s);
      return s !== null;
    });
  }

  /** Expiry: nothing outlives `expires_at`. */
  override async alarm(): Promise<void> {
    await this.serial(async () => {
      const s = await this.ctx.storage.get<UploadState>('upload');
      if (s) await this.purge(s);
    });
  }

  private async live(tenant: string, now: number, tokenId: string | null): Promise<UploadState | null> {
    const s = await this.ctx.storage.get<UploadState>('upload');
    if (!s) return null;
    if (now >= s.expires_at) {
      // The alarm may lag: an expired upload is purged on first touch as well.
      await this.purge(s);
      return null;
    }
    // A token sees only its own uploads; the tenant's API keys see all of the tenant's.
    const owned = s.tenant === tenant && (tokenId === null || s.token_id === tokenId);
    return owned ? s : null;
  }

  /** Streams the chunks in order through SHA-256 into the assembled object; purges on mismatch. */
  private async finish(s: UploadState): Promise<AppendResult> {
    const bucket = this.env.UPLOADS;
    const { readable, writable } = new FixedLengthStream(s.length);
    const put = bucket.put(uploadDataKey(s.tenant, s.id), readable, {
      httpMetadata: { contentType: s.content_type },
      customMetadata: { tenant: s.tenant, ...(s.sha256 !== null && { sha256: s.sha256 }) },
    });
    const digest = new crypto.DigestStream('SHA-256');
    const dataWriter = writable.getWriter();
    const digestWriter = digest.getWriter();
    try {
      for (const c of s.chunks) {
        const obj = await bucket.get(chunkKey(s, c.offset));
        if (!obj) throw new Error(`upload ${s.id}: chunk at ${c.offset} is missing from R2`);
        const bytes = new Uint8Array(await obj.arrayBuffer());
        await digestWriter.write(bytes);
        await dataWriter.write(bytes);
      }
      await Promise.all([digestWriter.close(), dataWriter.close()]);
      await put;
    } catch (err) {
      // The state stays `verifying` and the chunks stay in R2: the next call finishes it again.
      await Promise.allSettled([dataWriter.abort(err), digestWriter.abort(err), put]);
      throw err;
    }
    const actual = toHex(await digest.digest);
    if (s.sha256 !== null && actual !== s.sha256) {
      await this.purge(s);
      return { kind: 'whole_checksum_mismatch', actual };
    }
    s.sha256 = actual;
    s.state = 'complete';
    await this.ctx.storage.put('upload', s);
    // Complete first: a failed delete leaves the chunks to the upload's expiry purge (by prefix),
    // instead of leaving it `verifying`, assembled again by every later request.
    try {
      await deleteKeys(
        bucket,
        s.chunks.map((c) => chunkKey(s, c.offset)),
      );
    } catch (err) {
      log('warn', 'chunk_delete_failed', { upload_id: s.id, error: String(err) });
    }
    return { kind: 'stored', upload: s };
  }

  private async purge(s: UploadState): Promise<void> {
    const prefix = uploadPrefix(s.tenant, s.id);
    let cursor: string | undefined;
    do {
      const page = await this.env.UPLOADS.list({ prefix, cursor });
      if (page.objects.length) await this.env.UPLOADS.delete(page.objects.map((o) => o.key));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }
}
