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
    const end = ptr + Math.ceil(bytes / ALIGN) * ALIGN;
    if (end > this.maxBytes) {
      throw new KernelArgumentError(
        'kernel_memory',
        `kernel needs ${end} bytes of WASM memory, above the ${this.maxBytes}-byte limit`,
      );
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE_BYTES));
    this.top = end;
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

/** One instantiated kernel module and its memory. */
export class KernelCore {
  private constructor(
    private readonly instance: WebAssembly.Instance,
    private readonly memory: WebAssembly.Memory,
    private readonly heapBase: number,
    private readonly maxBytes: number,
  ) {}

  /** Instantiates the compiled kernel module with a memory this core owns. */
  static async create(module: WebAssembly.Module, options: KernelCoreOptions = {}): Promise<KernelCore> {
    const maxBytes = options.maxMemoryBytes ?? 2 ** 32 - PAGE_BYTES;
    const memory = new WebAssembly.Memory({ initial: 2, maximum: Math.floor(maxBytes / PAGE_BYTES) });
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
    return body(new KernelHeap(this.memory, this.heapBase, this.maxBytes));
  }

  /** Bytes the module's memory has grown to (it never shrinks). */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }
}
