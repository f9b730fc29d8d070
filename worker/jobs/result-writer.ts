/**
 * @module
 * Writes a result into R2 as it streams in, holding at most one multipart part (5 MiB, R2's minimum
 * for every part but the last) in memory. A result smaller than one part is one plain `put`.
 */
import { ByteQueue } from '../../engine/edge.js';

/** R2's smallest part but the last. */
export const PART_BYTES = 5 * 2 ** 20;

/** Streams bytes into one R2 object; `finish` commits it, `abort` leaves nothing behind. */
export class ResultWriter {
  private parts: R2UploadedPart[] = [];
  private upload: R2MultipartUpload | undefined;
  private pending = new ByteQueue();
  private total = 0;

  constructor(
    private readonly bucket: R2Bucket,
    private readonly key: string,
    private readonly options: R2MultipartOptions,
  ) {}

  /** Bytes written so far. */
  get bytes(): number {
    return this.total;
  }

  /** Appends bytes, uploading a part whenever one is full. */
  async write(bytes: Uint8Array): Promise<void> {
    this.pending.push(bytes);
    this.total += bytes.byteLength;
    while (this.pending.length >= PART_BYTES) await this.flushPart(PART_BYTES);
  }

  /** Commits the object. */
  async finish(): Promise<void> {
    if (!this.upload) {
      await this.bucket.put(this.key, this.pending.take(this.pending.length), this.options);
      return;
    }
    if (this.pending.length > 0) await this.flushPart(this.pending.length);
    await this.upload.complete(this.parts);
  }

  /** Drops whatever was written. */
  async abort(): Promise<void> {
    this.pending = new ByteQueue();
    if (this.upload) await this.upload.abort().catch(() => undefined);
  }

  private async flushPart(size: number): Promise<void> {
    this.upload ??= await this.bucket.createMultipartUpload(this.key, this.options);
    const part = await this.upload.uploadPart(this.parts.length + 1, this.pending.take(size));
    this.parts.push(part);
  }
}
