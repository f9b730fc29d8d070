/**
 * @module
 * The one way to load and call the WASM kernels. It is handed an already compiled
 * `WebAssembly.Module` (workerd forbids compiling from bytes at run time) and owns the module's
 * memory: every call reserves its buffers with {@link KernelHeap}, runs, copies results out and
 * releases the reservation.
 */

import { KernelArgumentError } from './kernel-errors.js';

const PAGE_BYTES = 65536;
const ALIGN = 16;

/** Element types that cross the JS/WASM boundary. */
export type KernelArray =
  Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array | Int16Array | Uint16Array | Int8Array;

type ArrayCtor<T extends KernelArray> = {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  BYTES_PER_ELEMENT: number;
};

/** Makes `[ptr, ptr + bytes)` (rounded up to the alignment) usable; returns its aligned end. */
function reserve(memory: WebAssembly.Memory, ptr: number, bytes: number, maxBytes: number): number {
  const end = ptr + Math.ceil(bytes / ALIGN) * ALIGN;
  if (end > maxBytes) {
    throw new KernelArgumentError(
      'kernel_memory',
      `kernel needs ${end} bytes of WASM memory, above the ${maxBytes}-byte limit`,
    );
  }
  const have = memory.buffer.byteLength;
  if (end > have) memory.grow(Math.ceil((end - have) / PAGE_BYTES));
  return end;
}

/** Bump allocator over the kernel module's memory; valid for one {@link KernelCore.run} call. */
export class KernelHeap {
  private top: number;

  constructor(
    private readonly memory: WebAssembly.Memory,
    base: number,
    private readonly maxBytes: number,
  ) {
    this.top = base;
  }

  /** Reserves `bytes` (16-byte aligned), growing the memory if needed; returns the pointer. */
  alloc(bytes: number): number {
    const ptr = this.top;
    this.top = reserve(this.memory, ptr, bytes, this.maxBytes);
    return ptr;
  }

  /** Copies `src` into fresh kernel memory and returns its pointer. */
  put(src: KernelArray): number {
    const ptr = this.alloc(src.byteLength);
    new Uint8Array(this.memory.buffer, ptr, src.byteLength).set(
      new Uint8Array(src.buffer, src.byteOffset, src.byteLength),
    );
    return ptr;
  }

  /** Reserves zero-filled memory for `length` elements of `ctor` and returns its pointer. */
  zeros<T extends KernelArray>(ctor: ArrayCtor<T>, length: number): number {
    const ptr = this.alloc(length * ctor.BYTES_PER_ELEMENT);
    new Uint8Array(this.memory.buffer, ptr, length * ctor.BYTES_PER_ELEMENT).fill(0);
    return ptr;
  }

  /** A live view of kernel memory; invalid after the next alloc (memory growth detaches it). */
  view<T extends KernelArray>(ctor: ArrayCtor<T>, ptr: number, length: number): T {
    return new ctor(this.memory.buffer as ArrayBuffer, ptr, length);
  }

  /** Copies `length` elements at `ptr` out of kernel memory. */
  take<T extends KernelArray>(ctor: ArrayCtor<T>, ptr: number, length: number): T {
    return this.view(ctor, ptr, length).slice() as T;
  }
}

/** Options for {@link KernelCore.create}. */
export interface KernelCoreOptions {
  /** Upper bound on the module's memory in bytes (a Worker isolate has 128 MB in all). */
  maxMemoryBytes?: number;
}

/**
 * Kernel memory that outlives {@link KernelCore.run} calls, for state a kernel updates many times
 * (a sliding-window accumulator across tiles) and that would otherwise be copied in and out of the
 * module on every call. Released explicitly; views must be taken afresh after any allocation, since
 * memory growth detaches them.
 */
export class KernelLease {
  private released = false;

  constructor(
    /** Pointer to the first byte (16-byte aligned). */
    readonly ptr: number,
    /** Bytes reserved. */
    readonly bytes: number,
    private readonly memory: WebAssembly.Memory,
    private readonly onRelease: (lease: KernelLease) => void,
  ) {}

  /** A live view of `length` elements at `byteOffset` into the lease. */
  view<T extends KernelArray>(ctor: ArrayCtor<T>, byteOffset = 0, length?: number): T {
    if (this.released) throw new KernelArgumentError('kernel_state', 'kernel lease used after release');
    const n = length ?? Math.floor((this.bytes - byteOffset) / ctor.BYTES_PER_ELEMENT);
    return new ctor(this.memory.buffer as ArrayBuffer, this.ptr + byteOffset, n);
  }

  /** Whether {@link release} has run. */
  get isReleased(): boolean {
    return this.released;
  }

  /** Gives the memory back; later calls are no-ops. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease(this);
  }
}

/**
 * The pages a core's memory starts with, which is also the minimum every kernel module declares for
 * its imported memory (`--initialMemory` in wasm/build.mjs): with a declared minimum of 0, an engine
 * that bounds-checks explicitly, as workerd's does, tests the memory's length a second time on every
 * access (docs/unet-wasm.md, "Why workerd is slower").
 */
export const KERNEL_MEMORY_INITIAL_PAGES = 2;

/** One instantiated kernel module and its memory. */
export class KernelCore {
  /** Live and released-but-not-yet-reclaimed leases, in address order; run() heaps start above them. */
  private readonly leases: KernelLease[] = [];
  private running = false;

  private constructor(
    private readonly instance: WebAssembly.Instance,
    private readonly memory: WebAssembly.Memory,
    private readonly heapBase: number,
    private readonly maxBytes: number,
  ) {}

  /** Instantiates the compiled kernel module with a memory this core owns. */
  static async create(module: WebAssembly.Module, options: KernelCoreOptions = {}): Promise<KernelCore> {
    const maxBytes = options.maxMemoryBytes ?? 2 ** 32 - PAGE_BYTES;
    const memory = new WebAssembly.Memory({
      initial: KERNEL_MEMORY_INITIAL_PAGES,
      maximum: Math.floor(maxBytes / PAGE_BYTES),
    });
    const abort = (): never => {
      throw new KernelArgumentError('kernel_abort', 'a WASM kernel aborted');
    };
    const instance = await WebAssembly.instantiate(module, { env: { memory, abort } });
    const heapBase = (instance.exports.kernel_heap_base as () => number)();
    return new KernelCore(instance, memory, heapBase, maxBytes);
  }

  /** The exported kernel `name`, typed by the caller's signature. */
  fn<F extends (...args: number[]) => number | void>(name: string): F {
    const f = this.instance.exports[name];
    if (typeof f !== 'function') throw new Error(`kernel module has no export ${name}`);
    return f as unknown as F;
  }

  /** Runs `body` with a fresh heap; everything it reserved is released afterwards. */
  run<T>(body: (heap: KernelHeap) => T): T {
    this.running = true;
    try {
      return body(new KernelHeap(this.memory, this.leaseTop, this.maxBytes));
    } finally {
      this.running = false;
    }
  }

  /**
   * Reserves `bytes` of zeroed kernel memory until the lease is released. Leases stack above the
   * module's static data; a released lease is reclaimed once every lease above it is released too,
   * so callers that interleave (two runs on one core) waste at most what the later one holds.
   */
  lease(bytes: number): KernelLease {
    if (this.running) throw new KernelArgumentError('kernel_state', 'kernel lease taken inside run()');
    const ptr = this.leaseTop;
    const end = reserve(this.memory, ptr, bytes, this.maxBytes);
    new Uint8Array(this.memory.buffer, ptr, end - ptr).fill(0);
    const lease = new KernelLease(ptr, end - ptr, this.memory, () => this.reclaim());
    this.leases.push(lease);
    return lease;
  }

  /** Bytes held by leases, reclaimed or not (what run() heaps start above). */
  get leasedBytes(): number {
    return this.leaseTop - this.heapBase;
  }

  private get leaseTop(): number {
    const top = this.leases[this.leases.length - 1];
    return top ? top.ptr + top.bytes : this.heapBase;
  }

  private reclaim(): void {
    while (this.leases.length > 0 && this.leases[this.leases.length - 1].isReleased) this.leases.pop();
  }

  /** Bytes the module's memory has grown to (it never shrinks). */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }
}
