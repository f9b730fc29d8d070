/**
 * Private mode: the edge model and the same WASM kernels run in this browser, on the runtime the
 * manifest's `edge.runtime` names (the own U-Net runtime, docs/unet-wasm.md, or onnxruntime-web's
 * WASM backend; one thread), with the options the Worker's edge runs use (engine/edge.ts
 * `segment`, ONE_SHOT_OPTIONS). The file is read here and never sent anywhere: the page fetches
 * only static assets of its own origin (web/build.mjs copies them into dist/web/private/): the
 * model's manifest and edge ONNX file, kernels.wasm, the U-Net layer modules and onnxruntime-web's
 * WASM binary.
 */
import {
  KernelCore,
  LimitError,
  ONE_SHOT_OPTIONS,
  UnsupportedError,
  checkManifest,
  createOrtWeb,
  createUnetWasm,
  UNET_WASM_MEMORY_BYTES,
  edgeRuntimeKind,
  encodeResultBytes,
  modalityWarnings,
  readImage,
  segment,
  type EdgeRuntimeKind,
  type EdgeSpec,
  type InferenceRuntime,
  type LabelStats,
  type ModelManifest,
} from '../engine/edge.js';
import { sha256Hex } from './checksum-stack.js';

const ASSETS = '/private/';
// As the Worker sizes its kernel core (wrangler.toml KERNEL_MEMORY_MB).
const KERNEL_MEMORY_BYTES = 64 * 2 ** 20;

export interface PrivateResult {
  /** The label map as NIfTI (gzip), encoded as the API encodes it. */
  labelMap: Uint8Array<ArrayBuffer>;
  stats: LabelStats[];
  /** What ran the model: the manifest's edge runtime. */
  runtime: EdgeRuntimeKind;
  provider: string;
  modelMs: number;
  totalMs: number;
  /** Sentences about the input, as the API's `X-Input-Warnings` (modality, NaN voxels read as 0). */
  warnings: string[];
}

async function fetchOk(path: string): Promise<Response> {
  const res = await fetch(new URL(path, location.origin));
  if (!res.ok) throw new Error(`${path}: the server answered ${res.status}`);
  return res;
}

let kernels: Promise<KernelCore> | undefined;
let ortModule: Promise<WebAssembly.Module> | undefined;
let unetModule: Promise<WebAssembly.Module> | undefined;

/**
 * The U-Net layer module with relaxed SIMD (fused multiply-add) where this browser validates it,
 * else the plain-SIMD build (Safari has no relaxed SIMD).
 */
async function compileUnet(): Promise<WebAssembly.Module> {
  const relaxed = await (await fetchOk(`${ASSETS}unet.wasm`)).arrayBuffer();
  if (WebAssembly.validate(relaxed)) return WebAssembly.compile(relaxed);
  return WebAssembly.compileStreaming(fetchOk(`${ASSETS}unet.plain.wasm`));
}
const runtimes = new Map<
  string,
  Promise<{ manifest: ModelManifest & { edge: EdgeSpec }; runtime: InferenceRuntime }>
>();

async function loadModel(
  id: string,
): Promise<{ manifest: ModelManifest & { edge: EdgeSpec }; runtime: InferenceRuntime }> {
  const res = await fetch(
    new URL(`${ASSETS}models/${encodeURIComponent(id)}/manifest.json`, location.origin),
  );
  if (res.status === 404) {
    throw new UnsupportedError(
      'no_private_model',
      `model ${id} does not run in the browser (it has no edge file)`,
    );
  }
  if (!res.ok) throw new Error(`the manifest of ${id}: the server answered ${res.status}`);
  const manifest = checkManifest(await res.json(), `manifest ${id}`);
  if (!manifest.edge) throw new UnsupportedError('no_private_model', `model ${id} has no edge file`);
  const edge = manifest.edge;
  const listed = manifest.files[edge.file];
  const bytes = new Uint8Array(await (await fetchOk(`${ASSETS}models/${id}/${edge.file}`)).arrayBuffer());
  const digest = await sha256Hex(new Blob([bytes]));
  if (digest !== listed.sha256) {
    throw new Error(`${id}/${edge.file} has sha256 ${digest}, the manifest says ${listed.sha256}`);
  }
  let runtime: InferenceRuntime;
  if (edgeRuntimeKind(edge) === 'unet-wasm') {
    unetModule ??= compileUnet();
    unetModule.catch(() => (unetModule = undefined));
    runtime = createUnetWasm(
      await KernelCore.create(await unetModule, { maxMemoryBytes: UNET_WASM_MEMORY_BYTES }),
      bytes,
    );
  } else {
    ortModule ??= WebAssembly.compileStreaming(fetchOk(`${ASSETS}ort-wasm-simd-threaded.wasm`));
    runtime = await createOrtWeb(bytes, await ortModule);
  }
  return { manifest: { ...manifest, edge }, runtime };
}

/** Segments `file` with `model` in this browser; nothing leaves it. */
export async function segmentPrivately(
  file: File,
  model: string,
  onStage: (text: string) => void,
): Promise<PrivateResult> {
  const started = performance.now();
  onStage(`Loading ${model} and the kernels into this browser.`);
  kernels ??= WebAssembly.compileStreaming(fetchOk(`${ASSETS}kernels.wasm`)).then((m) =>
    KernelCore.create(m, { maxMemoryBytes: KERNEL_MEMORY_BYTES }),
  );
  kernels.catch(() => (kernels = undefined));
  let loading = runtimes.get(model);
  if (!loading) {
    loading = loadModel(model);
    runtimes.set(model, loading);
    loading.catch(() => runtimes.delete(model));
  }
  const { manifest, runtime } = await loading;
  const budget = manifest.edge.max_voxels;
  const image = readImage(new Uint8Array(await file.arrayBuffer()), {
    limits: {
      maxInputBytes: 64 * 2 ** 20,
      maxDecompressedBytes: budget * 8 + 2 ** 20,
      maxVoxels: budget,
      maxDimension: budget,
    },
  });
  const voxels = image.shape[0] * image.shape[1] * image.shape[2];
  if (voxels > budget) {
    throw new LimitError('too_large', `private mode takes up to ${budget} voxels; this image has ${voxels}`);
  }
  onStage(`Segmenting on this device (${image.shape.join(' × ')} voxels).`);
  const result = await segment(await kernels, image, manifest, [runtime], { ...ONE_SHOT_OPTIONS, batch: 1 });
  const totalMs = Math.round(performance.now() - started);
  return {
    labelMap: encodeResultBytes('nifti', image, result, () => ({}), 8),
    stats: result.stats,
    runtime: edgeRuntimeKind(manifest.edge),
    provider: result.runtime.provider,
    modelMs: Math.round(result.timings.modelMs),
    totalMs,
    warnings: [...modalityWarnings(manifest, image), ...result.warnings],
  };
}
