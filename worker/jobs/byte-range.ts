/**
 * @module
 * One HTTP byte range (RFC 9110 §14): `bytes=a-b`, `bytes=a-` or `bytes=-n`. Several ranges, and
 * units other than bytes, are answered with the whole body, which the RFC allows. The unit is
 * matched case-insensitively, as RFC 9110 §14.1 says range units are.
 */
import { RangeNotSatisfiableError } from '../http-errors.js';

/** `[start, end]` inclusive, or null for the whole body; 416 when the range lies outside `size`. */
export function parseByteRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/i.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) throw new RangeNotSatisfiableError(size);
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) throw new RangeNotSatisfiableError(size);
  return { start, end };
}
