/**
 * @module
 * Assertions shared by the engine/io tests (kept free of `node:` imports; not exported from index).
 */
import { AppError } from '../errors.js';

/** Throws unless two matrices agree entry-wise within `tol`. */
export function assertMatrixClose(
  actual: number[][],
  expected: number[][],
  tol: number,
  what = 'affine',
): void {
  for (let r = 0; r < expected.length; r++) {
    for (let c = 0; c < expected[r].length; c++) {
      if (!(Math.abs(actual[r][c] - expected[r][c]) <= tol)) {
        throw new Error(`${what}[${r}][${c}] = ${actual[r][c]}, expected ${expected[r][c]} (±${tol})`);
      }
    }
  }
}

/** Throws unless `fn` throws an {@link AppError} whose code is `code`. */
export function assertCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof AppError))
      throw new Error(`expected AppError ${code}, got ${String(err)}`, { cause: err });
    if (err.code !== code)
      throw new Error(`expected code ${code}, got ${err.code}: ${err.message}`, { cause: err });
    return;
  }
  throw new Error(`expected AppError ${code}, but nothing was thrown`);
}
