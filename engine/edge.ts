/**
 * @module
 * The engine as the edge Worker sees it: the one engine module `worker/` imports (the Node entry
 * is engine/index.ts). Everything here runs in workerd: no `node:` imports, WASM from an already
 * compiled module. The Worker↔node contract comes whole (engine/protocol/); the rest is what the
 * Worker runs itself: reading headers and small images, the cost model, the pipeline for edge
 * runs (onnxruntime-web or the own U-Net runtime), manifests, API keys, the upload token's shape and the error hierarchy.
 */
export * from './protocol/index.js';
export { AppError, InputError, LimitError, NotFoundError, UnsupportedError } from './errors.js';
// The upload token's shape, which the page (web/app.ts) checks with the same definition.
export { UPLOAD_TOKEN_FORMAT } from './client/api-types.js';
export {
  constantTimeEqual,
  liveApiKeyById,
  randomBase64Url,
  sha256Hex,
  verifyApiKey,
  type ApiKeyRecord,
  type ApiScope,
} from './auth/api-key.js';
export {
  DEFAULT_READ_LIMITS,
  isDicom,
  readGeometry,
  readImage,
  readsAsZip,
  zipSliceBytes,
  type DeclaredGeometry,
  type ImageVolume,
  type ReadLimits,
} from './io/index.js';
export {
  checkManifest,
  edgeRuntimeKind,
  type EdgeRuntimeKind,
  type EdgeSpec,
  type ModelManifest,
} from './models/manifest.js';
export { modalityWarnings } from './models/modality.js';
export {
  compareVersions,
  formatModelReference,
  MODEL_ID,
  MODEL_REFERENCE,
  parseModelReference,
  REFERENCE_SYNTAX,
  releaseFileKey,
  UNVERSIONED,
  type ModelReference,
} from './models/reference.js';
export { segment } from './pipeline/segment.js';
export {
  checkWork,
  DEFAULT_WORK_LIMITS,
  estimateWork,
  maxVoxelsWithin,
  type WorkEstimate,
  type WorkLimits,
  type WorkOptions,
} from './pipeline/work.js';
export type { LabelStats } from './postprocessing/label-stats.js';
export { createOrtWeb } from './runtime/ort-web.js';
export { createUnetWasm, UNET_WASM_MEMORY_BYTES, UnetWasmUnsupported } from './runtime/unet-wasm.js';
export { OnnxWeightsError } from './runtime/onnx-weights.js';
export { KernelArgumentError } from '../wasm/src/kernel-errors.js';
export type { InferenceRuntime } from './runtime/runtime.js';
export { kernelSelfCheck } from './kernel-self-check.js';
export { KernelCore } from '../wasm/src/kernel-core.js';
export type * from './client/api-types.js';
