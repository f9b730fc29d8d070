/**
 * @module
 * A node's run worker, a worker thread of run-pool.ts: one run at a time, from the request's bytes
 * to the encoded result, told step by step to the main thread (run-messages.ts). Nothing in it is
 * shared with another run: the worker keeps its own model registry (onnxruntime sessions, whose
 * `run` holds the calling thread, docs/platform.md) and its own WASM kernel core (`sharedKernels()`
 * is one per thread, with a memory only this thread touches).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { readImage } from '../io/index.js';
import { modalityWarnings } from '../models/modality.js';
import { ModelRegistry } from '../models/registry.js';
import { segment } from '../pipeline/segment.js';
import { workGuard } from '../pipeline/work.js';
import { checkEncodable, encodeResult, RESULT_CONTENT_TYPES } from '../protocol/result-encoding.js';
import { nodeRuntimeFactory } from '../runtime/node-factory.js';
import type { InferenceRuntime } from '../runtime/runtime.js';
import { nodeSliceBackend } from '../runtime/slice-backend-node.js';
import {
  epochNow,
  runErrorOf,
  type FromRunWorker,
  type RunJob,
  type RunWorkerConfig,
  type ToRunWorker,
  type WorkerStage,
} from './run-messages.js';

/** The main thread set the stop flag. */
class RunStopped extends Error {}

const config = workerData as RunWorkerConfig;
const port = parentPort!;
const stopFlag = new Int32Array(config.stop);
const registry = new ModelRegistry(config.modelsDir, nodeRuntimeFactory);
let wake: (() => void) | undefined;
let busy = false;
let closing = false;

const post = (message: FromRunWorker, transfer: ArrayBuffer[] = []): void =>
  port.postMessage(message, transfer);
const stage = (name: WorkerStage): void => post({ type: 'stage', stage: name });
const checkStop = (): void => {
  if (Atomics.load(stopFlag, 0) !== 0) throw new RunStopped();
};

port.on('message', (message: ToRunWorker) => {
  switch (message.type) {
    case 'run':
      busy = true;
      void execute(message).finally(() => {
        busy = false;
        if (closing) void shutdown();
      });
      break;
    case 'pull':
    case 'cancel': {
      const w = wake;
      wake = undefined;
      w?.();
      break;
    }
    case 'close':
      closing = true;
      if (!busy) void shutdown();
      break;
  }
});

async function shutdown(): Promise<void> {
  await registry.dispose();
  // Ends this thread only; a Dawn device or a pending handle must not keep it alive.
  process.exit(0);
}

/** Resolves when the main thread has sent the last chunk on (or cancelled). */
const pulled = (): Promise<void> => new Promise((resolve) => (wake = resolve));

async function execute(job: RunJob): Promise<void> {
  try {
    const model = await registry.load(job.model);
    const work = { tta: job.tta };
    const image = readImage(job.bytes, {
      limits: config.limits,
      inspect: workGuard(model.manifest, work, config.work),
      // An 8/16-bit NIfTI stays in its stored type (docs/nnunet-inference.md, "Memory").
      storedType: true,
    });
    checkEncodable(job.format, image);
    stage('reading');
    checkStop();

    const folds = await registry.runtimes(job.model, config.device, {
      threads: config.threads,
      log: (line) => post({ type: 'log', line }),
    });
    post({ type: 'runtime', info: folds[0].info });
    const slices = await nodeSliceBackend(folds[0].info);
    post({ type: 'slices', info: slices.info });
    let modelCalls = 0;
    const watched = watchFolds(folds, () => {
      if (modelCalls++ === 0) stage('preprocess');
    });
    const result = await segment(await sharedKernels(), image, model.manifest, watched, {
      ...work,
      slices,
      onProgress: (p) => {
        checkStop();
        if (p.stage === 'done') return stage('postprocess');
        if (p.stage === 'postprocess') stage('predict');
        post({ type: 'progress', body: { stage: p.stage, done: p.done, total: p.total } });
      },
    });

    post({ type: 'progress', body: { stage: 'encode', done: 0, total: 1 } });
    post({
      type: 'meta',
      body: {
        content_type: RESULT_CONTENT_TYPES[job.format],
        shape: image.shape,
        voxels: image.shape[0] * image.shape[1] * image.shape[2],
        warnings: [...modalityWarnings(model.manifest, image), ...result.warnings],
      },
    });
    const timings = (): { total: number; model: number; queued: number } => ({
      total: Math.round(epochNow() - job.arrivedAt),
      model: Math.round(result.timings.modelMs),
      queued: Math.round(job.queuedMs),
    });
    for (const chunk of encodeResult(job.format, image, result, timings, config.slabPlanes)) {
      // A copy the worker never touches again can be transferred instead of cloned.
      const own = chunk.slice();
      post({ type: 'data', chunk: own }, [own.buffer]);
      await pulled();
      checkStop();
    }
    post({
      type: 'end',
      model: model.id,
      modelVersion: model.version,
      stats: result.stats,
      runtime: result.runtime,
      slices: result.slices,
      modelMs: result.timings.modelMs,
    });
  } catch (err) {
    if (err instanceof RunStopped || Atomics.load(stopFlag, 0) !== 0) {
      post({ type: 'cancelled' });
      return;
    }
    const error = runErrorOf(err);
    post({ type: 'failed', error, ...(error.status >= 500 && { cause: String(err) }) });
  }
}

/** The fold runtimes, checking the stop flag before each model call. */
function watchFolds(folds: InferenceRuntime[], onRun: () => void): InferenceRuntime[] {
  return folds.map((f) => ({
    info: f.info,
    inputName: f.inputName,
    outputNames: f.outputNames,
    run: async (input, dims) => {
      checkStop();
      onRun();
      return f.run(input, dims);
    },
    dispose: () => f.dispose(),
  }));
}
