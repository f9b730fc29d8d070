/**
 * @module
 * Byte helpers both sides of the seam need, without Node's Buffer (the Worker and the page have none).
 */

/** The parts, one after another, in one new buffer. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Bytes in the order they arrived, taken from the front: each byte is copied once, when it is taken,
 * however many pieces it arrived in (frame decoding, R2 result parts).
 */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  length = 0;

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.byteLength;
  }

  /** The first `n` bytes (n <= length), left in the queue. */
  peek(n: number): Uint8Array {
    if (this.chunks[0].byteLength >= n) return this.chunks[0].subarray(0, n);
    const joined = this.take(n);
    this.chunks.unshift(joined);
    this.length += n;
    return joined;
  }

  /** The first `n` bytes (n <= length) in a buffer of their own, removed from the queue. */
  take(n: number): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const chunk = this.chunks[0];
      const k = Math.min(chunk.byteLength, n - at);
      out.set(chunk.subarray(0, k), at);
      at += k;
      if (k === chunk.byteLength) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(k);
    }
    this.length -= n;
    return out;
  }
}
