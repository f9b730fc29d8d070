/**
 * PNG chunks for tests that hand-craft files (bombs, lying headers, extra chunks): length, type,
 * data and a valid CRC, so that only what a test means to break is broken.
 */
import { crc32 } from 'node:zlib';

/** One chunk of `type` holding `data`. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.byteLength);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.byteLength, pngCrc(out.subarray(4, 8 + data.byteLength)));
  return out;
}

/** The CRC of a chunk's type and data (zlib's CRC-32, as PNG's). */
export const pngCrc = (typeAndData: Uint8Array): number => crc32(typeAndData);
