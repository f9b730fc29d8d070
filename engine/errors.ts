/**
 * @module
 * The one error hierarchy. Every failure the user can cause is an {@link AppError} with a stable
 * `code`; the HTTP layer renders it as problem+json with `status`, the CLI prints it and exits 1.
 */
import { KernelArgumentError } from '../wasm/src/kernel-errors.js';

/** Base of all expected errors. `code` is stable and becomes the problem `type`. */
export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The input is malformed or inconsistent (bad header, wrong shape, bad option). */
export class InputError extends AppError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, 422, message, options);
  }
}

/** The input is well-formed but in a format or variant we do not read. */
export class UnsupportedError extends AppError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, 415, message, options);
  }
}

/** The input exceeds a configured limit (bytes, decompressed bytes, dimensions, voxels). */
export class LimitError extends AppError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, 413, message, options);
  }
}

/** A named thing (file, model, job) does not exist. */
export class NotFoundError extends AppError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, 404, message, options);
  }
}

/**
 * The failure as an AppError when it is one the user caused: AppErrors as they are, and the WASM
 * kernels' argument errors (an input that reached a kernel in a shape it cannot take) as 422
 * InputErrors with the kernel's code; null for anything else (a bug: 500, exit 70).
 */
export function userError(err: unknown): AppError | null {
  if (err instanceof AppError) return err;
  if (err instanceof KernelArgumentError) return new InputError(err.code, err.message, { cause: err });
  return null;
}
