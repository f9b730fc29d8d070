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
