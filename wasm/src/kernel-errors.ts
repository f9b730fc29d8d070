/** A kernel was called with arguments it cannot take (shape, spacing, length or memory). */
export class KernelArgumentError extends RangeError {
  constructor(
    /** Stable machine-readable code, e.g. `kernel_shape`. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'KernelArgumentError';
  }
}
