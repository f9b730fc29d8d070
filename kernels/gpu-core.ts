/**
 * @module
 * The one way to load and call the WGSL kernels. It is handed a `GPUDevice` (Dawn for Node through
 * `webgpu`, a browser's `navigator.gpu`, or a device an ONNX runtime shares), compiles every shader
 * family of `wgsl.generated.ts` once and creates one compute pipeline per entry point. Wrappers
 * encode dispatches into a pending command encoder; {@link GpuKernels.flush} submits them and
 * throws on any validation or out-of-memory error they raised, so a broken kernel never passes
 * silently.
 */
import { WGSL } from './wgsl.generated.js';

/** A shader family: one `.wgsl` file of `kernels/`. */
export type ShaderFamily = keyof typeof WGSL;

/** Threads per workgroup of every 1D kernel (`@workgroup_size(64)` in the shaders). */
export const WORKGROUP = 64;

/** Storage buffers: kernels read and write them, results are copied out. */
const STORAGE = 0x0080 | 0x0004 | 0x0008; // GPUBufferUsage.STORAGE | COPY_SRC | COPY_DST
const UNIFORM = 0x0040; // GPUBufferUsage.UNIFORM
const MAP_READ_DST = 0x0001 | 0x0008; // GPUBufferUsage.MAP_READ | COPY_DST
const MAP_READ = 0x0001; // GPUMapMode.READ

/** A kernel call the GPU refused, or arguments a wrapper refused. */
export class GpuKernelError extends Error {
  constructor(
    readonly code: 'gpu_argument' | 'gpu_shape' | 'gpu_shader' | 'gpu_validation',
    message: string,
  ) {
    super(message);
    this.name = 'GpuKernelError';
  }
}

/** Typed arrays the kernels read back. */
type ReadArray = Float32Array | Uint32Array | Uint8Array | Int32Array;
type ReadCtor<T extends ReadArray> = {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  BYTES_PER_ELEMENT: number;
};

/** Uniform parameters of one dispatch: u32 fields first, then f32 fields, as every shader's `Params` struct. */
export interface DispatchParams {
  u32?: readonly number[];
  f32?: readonly number[];
}

/** Every pipeline of every shader family on one device. */
export class GpuKernels {
  private encoder: GPUCommandEncoder | null = null;
  private transient: GPUBuffer[] = [];

  private constructor(
    readonly device: GPUDevice,
    private readonly pipelines: ReadonlyMap<string, GPUComputePipeline>,
  ) {}

  /** Compiles every shader family and creates its pipelines; throws with the compiler's messages on a bad shader. */
  static async create(device: GPUDevice): Promise<GpuKernels> {
    const pipelines = new Map<string, GPUComputePipeline>();
    for (const [family, { source, entries }] of Object.entries(WGSL)) {
      device.pushErrorScope('validation');
      const module = device.createShaderModule({ label: family, code: source });
      const errors = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
      if (errors.length > 0) {
        await device.popErrorScope();
        const text = errors.map((m) => `${family}.wgsl:${m.lineNum}:${m.linePos}: ${m.message}`).join('\n');
        throw new GpuKernelError('gpu_shader', text);
      }
      for (const entry of entries) {
        const pipeline = await device.createComputePipelineAsync({
          label: `${family}:${entry}`,
          layout: 'auto',
          compute: { module, entryPoint: entry },
        });
        pipelines.set(`${family}:${entry}`, pipeline);
      }
      const error = await device.popErrorScope();
      if (error) throw new GpuKernelError('gpu_shader', `${family}.wgsl: ${error.message}`);
    }
    return new GpuKernels(device, pipelines);
  }

  /** A zero-filled storage buffer of `bytes` (rounded up to 4), or one holding a copy of `data`. */
  buffer(sizeOrData: number | ArrayBufferView, label?: string): GPUBuffer {
    const bytes = typeof sizeOrData === 'number' ? sizeOrData : sizeOrData.byteLength;
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    if (typeof sizeOrData === 'number') return this.device.createBuffer({ label, size, usage: STORAGE });
    const buffer = this.device.createBuffer({ label, size, usage: STORAGE, mappedAtCreation: true });
    new Uint8Array(buffer.getMappedRange()).set(
      new Uint8Array(sizeOrData.buffer, sizeOrData.byteOffset, sizeOrData.byteLength),
    );
    buffer.unmap();
    return buffer;
  }

  /** Like {@link buffer}, but destroyed at the next {@link flush} (scratch and tables of one call). */
  temp(sizeOrData: number | ArrayBufferView): GPUBuffer {
    const buffer = this.buffer(sizeOrData, 'temp');
    this.transient.push(buffer);
    return buffer;
  }

  /**
   * Encodes one dispatch of `family`'s `entry` over `threads` invocations (a 2D grid of 64-thread
   * workgroups when one dimension would exceed the device limit; shaders fold it back with
   * `gid.y * nwg.x * 64 + gid.x`). `buffers` maps binding numbers (1 and up) to buffers; binding 0
   * is the uniform `Params`.
   */
  dispatch(
    family: ShaderFamily,
    entry: string,
    params: DispatchParams,
    buffers: Readonly<Record<number, GPUBuffer>>,
    threads: number | { workgroups: number },
  ): void {
    const pipeline = this.pipelines.get(`${family}:${entry}`);
    if (!pipeline) throw new GpuKernelError('gpu_argument', `no kernel ${family}:${entry}`);
    const groups = typeof threads === 'number' ? Math.ceil(threads / WORKGROUP) : threads.workgroups;
    if (groups === 0) return;
    if (this.encoder === null) {
      this.device.pushErrorScope('out-of-memory');
      this.device.pushErrorScope('validation');
      this.encoder = this.device.createCommandEncoder();
    }
    const uniform = this.uniform(params);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniform } }];
    for (const [binding, buffer] of Object.entries(buffers))
      entries.push({ binding: Number(binding), resource: { buffer } });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    const pass = this.encoder.beginComputePass({ label: `${family}:${entry}` });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.min(groups, max), Math.ceil(groups / max));
    pass.end();
  }

  /** Encodes a copy of `bytes` from `src` to `dst`. */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    if (this.encoder === null) {
      this.device.pushErrorScope('out-of-memory');
      this.device.pushErrorScope('validation');
      this.encoder = this.device.createCommandEncoder();
    }
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Submits everything encoded since the last flush; throws if the device reported an error for it. */
  async flush(): Promise<void> {
    const encoder = this.encoder;
    if (encoder === null) return;
    this.encoder = null;
    this.device.queue.submit([encoder.finish()]);
    const validation = await this.device.popErrorScope();
    const memory = await this.device.popErrorScope();
    for (const b of this.transient) b.destroy();
    this.transient = [];
    const error = validation ?? memory;
    if (error) throw new GpuKernelError('gpu_validation', error.message);
  }

  /** Flushes, then copies `length` elements of `ctor` from `buffer` (at `byteOffset`) back to the CPU. */
  async read<T extends ReadArray>(
    buffer: GPUBuffer,
    ctor: ReadCtor<T>,
    length: number,
    byteOffset = 0,
  ): Promise<T> {
    const bytes = length * ctor.BYTES_PER_ELEMENT;
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.device.createBuffer({ size, usage: MAP_READ_DST });
    this.copy(buffer, staging, size, byteOffset);
    await this.flush();
    await staging.mapAsync(MAP_READ);
    const out = new ctor(staging.getMappedRange().slice(0, bytes), 0, length);
    staging.unmap();
    staging.destroy();
    return out;
  }

  /** A uniform buffer holding `params` (u32 fields, then f32 fields), destroyed at the next flush. */
  private uniform(params: DispatchParams): GPUBuffer {
    const u = params.u32 ?? [];
    const f = params.f32 ?? [];
    const words = Math.max(4, Math.ceil((u.length + f.length) / 4) * 4);
    const buffer = this.device.createBuffer({ size: words * 4, usage: UNIFORM, mappedAtCreation: true });
    const range = buffer.getMappedRange();
    new Uint32Array(range, 0, u.length).set(u);
    new Float32Array(range, u.length * 4, f.length).set(f);
    buffer.unmap();
    this.transient.push(buffer);
    return buffer;
  }
}
