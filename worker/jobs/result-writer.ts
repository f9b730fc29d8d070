/**
 * @module
 * Writes a result into R2 as it streams in, holding at most one multipart part (5 MiB, R2's minimum
 * for every part but the last) in memory. A result smaller than one part is one plain `put`.
 */

/** R2's smallest part but the last. */
export const PART_BYTES = 5 * 2 ** 20;

/** Streams bytes into one R2 object; `finish` commits it, `abort` leaves nothing behind. */
export class ResultWriter {
  private parts: R2UploadedPart[] = [];
  private upload: R2MultipartUpload | undefined;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
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
    this.pendingBytes += bytes.byteLength;
    this.total += bytes.byteLength;
    while (this.pendingBytes >= PART_BYTES) await this.flushPart(PART_BYTES);
  }

  /** Commits the object. */
  async finish(): Promise<void> {
    if (!this.upload) {
      await this.bucket.put(this.key, this.take(this.pendingBytes), this.options);
      return;
    }
    if (this.pendingBytes > 0) await this.flushPart(this.pendingBytes);
    await this.upload.complete(this.parts);
  }

  /** Drops whatever was written. */
  async abort(): Promise<void> {
    this.pending = [];
    this.pendingBytes = 0;
    if (this.upload) await this.upload.abort().catch(() => undefined);
  }

  private async flushPart(size: number): Promise<void> {
    this.upload ??= await this.bucket.createMultipartUpload(this.key, this.options);
    const part = await this.upload.uploadPart(this.parts.length + 1, this.take(size));
    this.parts.push(part);
  }

  /** Removes the first `size` pending bytes as one array. */
  private take(size: number): Uint8Array {
    const out = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const head = this.pending[0];
      const n = Math.min(head.byteLength, size - at);
      out.set(head.subarray(0, n), at);
      at += n;
      if (n === head.byteLength) this.pending.shift();
      else this.pending[0] = head.subarray(n);
    }
    this.pendingBytes -= size;
    return out;
  }
}
