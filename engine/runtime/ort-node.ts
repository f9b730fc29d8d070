/**
 * @module
 * onnxruntime-node adapters: the CPU provider with a thread count, and the WebGPU provider that falls
 * back to the CPU provider (with the reason logged and reported) when no GPU adapter can be created.
 */
import * as ort from 'onnxruntime-node';
import { CPU_MAX_BATCH, type InferenceRuntime, type RuntimeOptions } from './runtime.js';
import { firstLine } from './gpu-adapter.js';
import { inSubBatches } from './sub-batches.js';
import { wrapOrtSession } from './wrap-session.js';

/** onnxruntime-node's session options. */
export type SessionOptions = ort.InferenceSession.SessionOptions;

function baseOptions(threads: number): SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  };
}

const nodeTensor = (data: Float32Array, dims: readonly number[]): ort.Tensor =>
  new ort.Tensor('float32', data, dims);

/**
 * onnxruntime-node on the CPU execution provider, running at most `options.maxBatch` tiles per call
 * (default {@link CPU_MAX_BATCH}). The arena stays on: without it every call maps its activations
 * afresh, and a batch of 8 took 2-3x as long here (bench/results/engine.md).
 */
export async function createOrtNodeCpu(
  model: Uint8Array,
  options: RuntimeOptions = {},
  /** Other session settings, for the benchmark that compares them (bench/engine.ts). */
  overrides: SessionOptions = {},
): Promise<InferenceRuntime> {
  const threads = options.threads ?? 1;
  const session = await ort.InferenceSession.create(model, {
    ...baseOptions(threads),
    executionProviders: ['cpu'],
    ...overrides,
  });
  const runtime = wrapOrtSession(session, nodeTensor, {
    requested: 'cpu',
    provider: 'cpu',
    threads,
  });
  return inSubBatches(runtime, options.maxBatch ?? CPU_MAX_BATCH);
}

/**
 * onnxruntime-node on the WebGPU execution provider. Without a usable adapter (no Vulkan driver,
 * as on CPU-only machines) session creation throws; the CPU provider then runs the model and the
 * reason is logged and kept in `info.fallbackReason`.
 */
export async function createOrtNodeWebGpu(
  model: Uint8Array,
  options: RuntimeOptions = {},
): Promise<InferenceRuntime> {
  const threads = options.threads ?? 1;
  try {
    const session = await ort.InferenceSession.create(model, {
      ...baseOptions(threads),
      executionProviders: ['webgpu'],
    });
    return wrapOrtSession(session, nodeTensor, {
      requested: 'webgpu',
      provider: 'webgpu',
      threads,
    });
  } catch (err) {
    const reason = firstLine(err);
    options.log?.(`webgpu unavailable, falling back to the CPU provider: ${reason}`);
    const cpu = await createOrtNodeCpu(model, { threads, maxBatch: options.maxBatch });
    return { ...cpu, info: { ...cpu.info, requested: 'webgpu', fallbackReason: reason } };
  }
}
