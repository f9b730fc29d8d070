/**
 * @module
 * Admission control for an inference node: at most `concurrency` runs at once and `capacity` more
 * waiting. A slot is taken synchronously when a request is admitted, so a request beyond capacity
 * is refused at once (503) instead of piling up in memory; the Worker then tries another node.
 */

/** Thrown into {@link RunSlot.ready} when a waiting slot is released before its turn. */
export class SlotReleasedError extends Error {
  constructor() {
    super('run slot released while waiting');
  }
}

/** One admitted run. */
export interface RunSlot {
  /** True while the slot waits for a free run. */
  readonly waiting: boolean;
  /** Resolves when the run may start; rejects with {@link SlotReleasedError} if released first. */
  readonly ready: Promise<void>;
  /** Gives the slot back (idempotent): frees the run for the next waiter or leaves the queue. */
  release(): void;
}

interface Waiter {
  slot: Slot;
  start: () => void;
  cancel: () => void;
}

class Slot implements RunSlot {
  waiting: boolean;
  released = false;
  ready: Promise<void>;

  constructor(
    private readonly owner: RunQueue,
    waiting: boolean,
    ready: Promise<void>,
  ) {
    this.waiting = waiting;
    this.ready = ready;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.owner.releaseSlot(this);
  }
}

/** A counting semaphore with a bounded FIFO of waiters. */
export class RunQueue {
  private active = 0;
  private readonly waiters: Waiter[] = [];

  /** @param concurrency runs at once (≥ 1); @param capacity waiting runs beyond that (≥ 0). */
  constructor(
    readonly concurrency: number,
    readonly capacity: number,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be an integer ≥ 1, got ${concurrency}`);
    }
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`queue must be an integer ≥ 0, got ${capacity}`);
    }
  }

  /** Runs holding a slot now. */
  get running(): number {
    return this.active;
  }

  /** Runs waiting for a slot. */
  get queued(): number {
    return this.waiters.length;
  }

  /** Takes a slot, running or waiting, or returns null when the node is saturated. */
  tryAcquire(): RunSlot | null {
    if (this.active < this.concurrency) {
      this.active++;
      return new Slot(this, false, Promise.resolve());
    }
    if (this.waiters.length >= this.capacity) return null;
    let start!: () => void;
    let cancel!: () => void;
    const ready = new Promise<void>((resolve, reject) => {
      start = resolve;
      cancel = () => reject(new SlotReleasedError());
    });
    // A released waiter's promise may never be awaited; keep its rejection from going unhandled.
    ready.catch(() => {});
    const slot = new Slot(this, true, ready);
    this.waiters.push({ slot, start, cancel });
    return slot;
  }

  /** @internal Called by {@link RunSlot.release}. */
  releaseSlot(slot: Slot): void {
    if (slot.waiting) {
      const i = this.waiters.findIndex((w) => w.slot === slot);
      if (i >= 0) this.waiters.splice(i, 1)[0].cancel();
      return;
    }
    this.active--;
    const next = this.waiters.shift();
    if (next) {
      this.active++;
      next.slot.waiting = false;
      next.start();
    }
  }
}
