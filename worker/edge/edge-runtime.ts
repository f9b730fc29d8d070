/**
 * @module
 * The isolate's runtime for edge-capable models: the release's edge file comes from the MODELS
 * bucket (key `<id>@<version>/<file>`, docs/model-versions.md) and is checked against its
 * manifest's SHA-256 before first use, then runs on what the manifest's `edge.runtime` names: the
 * own plain U-Net runtime (docs/unet-wasm.md) or onnxruntime-web. Both WASM modules arrive
 * pre-compiled (workerd compiles nothing at run time). One runtime per isolate, of the release last
 * asked for; a load that fails is forgotten, so the next request tries again.
 */
import {
  createOrtWeb,
  createUnetWasm,
  edgeRuntimeKind,
  KernelCore,
  releaseFileKey,
  KernelArgumentError,
  OnnxWeightsError,
  UNET_WASM_MEMORY_BYTES,
  UnetWasmUnsupported,
  UNVERSIONED,
  type EdgeSpec,
  type InferenceRuntime,
  type ModelManifest,
} from '../../engine/edge.js';
import ortWasm from '../../node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm';
import unetWasm from '../../wasm/build/unet.wasm';
import { resolveModel } from '../catalog/model-catalog.js';
import { log } from '../log.js';

/** A bundled manifest that carries the edge mark. */
export type EdgeManifest = ModelManifest & { edge: EdgeSpec };

/**
 * The model cannot run here: its file is missing from MODELS or is not the file the manifest
 * names. Not an AppError on purpose: the caller sends the run to a node instead of failing it.
 */
export class EdgeModelUnavailable extends Error {
  override readonly name = 'EdgeModelUnavailable';
}

/**
 * The isolate's one edge runtime. Another release's replaces it, disposed first: WASM memory never
 * shrinks, so two live ones would hold two models (two onnxruntime-web sessions of brain-wm-2d took
 * its heap to 99.7 MB of the isolate's 128, docs/platform.md; the own runtime gives its leases back
 * to its core, where the next model reuses them). Edge runs are one at a time per isolate
 * (edge-segment.ts), so none is using the runtime being replaced. A client alternating releases
 * makes each of its edge requests reload the model (one R2 read of a file the manifest sizes, one
 * SHA-256, one load: ~0.35 s CPU on the own runtime, bench/results/edge-oneshot.md), inside a
 * request that is bounded and charged like any other; memory stays that of one model.
 */
let current: { key: string; runtime: Promise<InferenceRuntime> } | null = null;

/** The own runtime's layer module and memory, one per isolate, made on the first unet-wasm load. */
let unetCore: Promise<KernelCore> | null = null;

function unetKernels(): Promise<KernelCore> {
  unetCore ??= KernelCore.create(unetWasm, { maxMemoryBytes: UNET_WASM_MEMORY_BYTES });
  unetCore.catch(() => (unetCore = null));
  return unetCore;
}

/** The bundled manifest of the release `reference` names when it is marked edge-capable; null otherwise. */
export function edgeManifest(reference: string): EdgeManifest | null {
  const { manifest } = resolveModel(reference);
  return manifest.edge ? (manifest as EdgeManifest) : null;
}

/** The `<id>@<version>/<file>` key of the release's edge file in MODELS. */
export function edgeObjectKey(manifest: EdgeManifest): string {
  return releaseFileKey(manifest.id, manifest.version ?? UNVERSIONED, manifest.edge.file);
}

/** The isolate's session for `manifest`'s edge file, loaded from `bucket` on first use. */
export function edgeRuntime(bucket: R2Bucket, manifest: EdgeManifest): Promise<InferenceRuntime> {
  const key = edgeObjectKey(manifest);
  if (current?.key === key) return current.runtime;
  const previous = current;
  const runtime = (async () => {
    if (previous) await unload(previous);
    return loadRuntime(bucket, manifest, key);
  })();
  const entry = { key, runtime };
  current = entry;
  runtime.catch(() => {
    if (current === entry) current = null;
  });
  return runtime;
}

async function unload(entry: { key: string; runtime: Promise<InferenceRuntime> }): Promise<void> {
  const runtime = await entry.runtime.catch(() => null);
  if (!runtime) return;
  await runtime.dispose();
  log('info', 'edge_model_unloaded', { object: entry.key });
}

async function loadRuntime(bucket: R2Bucket, manifest: EdgeManifest, key: string): Promise<InferenceRuntime> {
  const listed = manifest.files[manifest.edge.file];
  const object = await bucket.get(key);
  if (!object) throw new EdgeModelUnavailable(`MODELS has no object ${key}`);
  // A wrong size is refused before the bytes are read into the isolate's memory.
  if (listed.bytes !== undefined && object.size !== listed.bytes) {
    await object.body.cancel();
    throw new EdgeModelUnavailable(`${key} is ${object.size} bytes, the manifest says ${listed.bytes}`);
  }
  const bytes = new Uint8Array(await object.arrayBuffer());
  const digest = await sha256Hex(bytes);
  if (digest !== listed.sha256) {
    throw new EdgeModelUnavailable(`${key} has sha256 ${digest}, the manifest says ${listed.sha256}`);
  }
  const kind = edgeRuntimeKind(manifest.edge);
  let runtime: InferenceRuntime;
  if (kind === 'unet-wasm') {
    try {
      runtime = createUnetWasm(await unetKernels(), bytes);
    } catch (e) {
      // A release marked for the own runtime whose file it cannot read or rebuild, or that does not
      // fit UNET_WASM_MEMORY_BYTES: its runs go to a node.
      if (
        e instanceof UnetWasmUnsupported ||
        e instanceof OnnxWeightsError ||
        e instanceof KernelArgumentError
      ) {
        throw new EdgeModelUnavailable(`${key}: ${e.message}`);
      }
      throw e;
    }
  } else {
    runtime = await createOrtWeb(bytes, ortWasm);
  }
  log('info', 'edge_model_loaded', { object: key, bytes: bytes.byteLength, runtime: kind });
  return runtime;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
