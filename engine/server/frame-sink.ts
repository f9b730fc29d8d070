/**
 * @module
 * A run's response body (node-run.ts): frames with backpressure, so a client that reads slowly slows
 * its run rather than filling the node's memory.
 */
import { encodeFrame, MAX_FRAME_PAYLOAD, type Frame } from '../protocol/frames.js';

export class FrameSink {
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private wake: (() => void) | undefined;
  closed = false;

  /** `onCancel`: the client went away. `bufferBytes`: what may wait unread before `drain` waits. */
  constructor(onCancel: () => void, bufferBytes = 2 * MAX_FRAME_PAYLOAD) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => void (this.controller = controller),
        pull: () => this.resume(),
        cancel: () => {
          this.closed = true;
          this.resume();
          onCancel();
        },
      },
      { highWaterMark: bufferBytes, size: (chunk) => chunk.byteLength },
    );
  }

  send(frame: Frame): void {
    if (!this.closed) this.controller.enqueue(encodeFrame(frame));
  }

  /**
   * Waits while the client lags, until it reads, goes away, or `signal` aborts. The signal matters:
   * a client that keeps its connection open but stops reading would otherwise hold the run, and its
   * slot, past the run's deadline, since nothing else wakes this wait.
   */
  async drain(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const onAbort = (): void => this.resume();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!this.closed && !signal.aborted && (this.controller.desiredSize ?? 1) <= 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.controller.close();
  }

  private resume(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
