/**
 * @module
 * The `models/<id>/manifest.json` contract (format `nnsam-edge-model/1`, written by `training/`):
 * the fields inference needs, checked once when a model is loaded.
 */
import { InputError } from '../errors.js';
import type { ArrayAxes } from '../preprocessing/axes.js';
import type { BiasCorrectionSpec } from '../preprocessing/bias-field.js';
import { MODEL_VERSION } from './reference.js';

/** Dataset statistics per channel (nnU-Net's foreground_intensity_properties_per_channel). */
export interface IntensityProperties {
  mean: number;
  std: number;
  percentile_00_5: number;
  percentile_99_5: number;
}

/** Resampling kwargs of one kind (data, seg, probabilities). */
export interface ResamplingKwargs {
  order: 0 | 1 | 3;
  order_z: 0 | 1 | 3;
  force_separate_z: boolean | null;
}

/** The plans fields inference reads. */
export interface ManifestPlans {
  patch_size: number[];
  spacing: number[];
  batch_size: number;
  transpose_forward: number[];
  transpose_backward: number[];
  normalization_schemes: string[];
  use_mask_for_norm: boolean[];
  foreground_intensity_properties_per_channel: Record<string, IntensityProperties>;
  resampling_fn_data_kwargs: ResamplingKwargs;
  resampling_fn_probabilities_kwargs: ResamplingKwargs;
}

/** One ONNX output as the manifest describes it. */
export interface ManifestOutput {
  name: string;
  shape: (number | string)[];
  kind: string;
  tau?: number;
}

/** A file of the model folder with its checksum. */
export interface ManifestFile {
  bytes?: number;
  sha256?: string;
  fold?: number;
  precision?: string;
  role?: string;
  /**
   * The listed ONNX file whose weights this file holds, in a graph made for onnxruntime-web
   * (training/web_graph.py, docs/platform.md): what the `wasm` device and the edge run in its place.
   */
  web_graph_of?: string;
}

/**
 * What runs a model's edge file: onnxruntime-web (any graph), or the own plain U-Net runtime
 * (engine/runtime/unet-wasm.ts, docs/unet-wasm.md), which rebuilds the network from an exported
 * fold file's weights.
 */
export type EdgeRuntimeKind = 'onnxruntime-web' | 'unet-wasm';

/** The model's mark as able to run inside the Worker: its ONNX file there and the largest input. */
export interface EdgeSpec {
  /** A file listed under `files` (with its SHA-256), e.g. `model.fp16.onnx`. */
  file: string;
  /** Most voxels an input may have to run at the edge. */
  max_voxels: number;
  /** What runs `file` at the edge and in the page's private mode; absent: onnxruntime-web. */
  runtime?: EdgeRuntimeKind;
}

/** The runtime that runs `edge`'s file. */
export function edgeRuntimeKind(edge: EdgeSpec): EdgeRuntimeKind {
  return edge.runtime ?? 'onnxruntime-web';
}

/**
 * Level-set refinement settings (engine/postprocessing/refine.ts): the level-set head's weight in the
 * fused score, curvature-flow steps, and optionally the narrow band (voxels of the smallest spacing,
 * default 3) and the time step (fraction of the flow's stability bound, default 0.5).
 */
export interface ManifestRefine {
  levelset_weight: number;
  iterations: number;
  band_voxels?: number;
  dt_fraction?: number;
}

/** The parsed manifest. */
export interface ModelManifest {
  format: string;
  id: string;
  /** The model's release version (older manifests have none). */
  version?: string;
  /** A display name (the id where absent). */
  name?: string;
  /** The input channels' imaging modalities, e.g. `["T1"]`. */
  modality?: string[];
  configuration: string;
  onnx: { inputs: { name: string; shape: (number | string)[] }[]; outputs: ManifestOutput[] };
  plans: ManifestPlans;
  dataset: {
    labels: Record<string, number | number[]>;
    regions_class_order: number[] | null;
    channel_names: Record<string, string>;
  };
  inference: {
    mirroring_axes: number[];
    folds: number[];
    tile_step_size: number;
    gaussian_sigma_scale: number;
    /** `{keep_largest_foreground, keep_largest_labels}`; null: none. */
    postprocessing: unknown;
    /** The array the plans' axes refer to (absent: `nibabel`, training/'s convention). */
    array_axes?: ArrayAxes;
    /** The model's refinement settings (segment()'s `refine`), tuned on its training cases (absent: the engine's defaults). */
    refine?: ManifestRefine;
    /**
     * Bias-field correction from a first segmentation, then a second one (docs/robustness.md):
     * only a release that declares it runs it.
     */
    bias_correction?: BiasCorrectionSpec;
  };
  files: Record<string, ManifestFile>;
  stand_in?: boolean;
  provenance?: { validation_case?: string | null };
  metrics?: unknown;
  /** Present when the model may run inside the Worker (WASM) on small inputs. */
  edge?: EdgeSpec;
  /** The nnSAM family's SAM-branch description (training/release.py); absent or null for a plain U-Net. */
  sam_branch?: unknown;
  /**
   * The model should run on GPU (WebGPU) nodes where there are any: placement tries them first. Set
   * for the nnSAM family, whose TinyViT encoder costs about 1.5 s per patch on the CPU provider.
   */
  prefers_gpu?: boolean;
}

const FORMAT = 'nnsam-edge-model/1';

/** Parses and checks `text` as a model manifest; `where` names it in errors. */
export function parseManifest(text: string, where: string): ModelManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError('bad_manifest', `${where}: not JSON (${(err as Error).message})`);
  }
  return checkManifest(value, where);
}

/** Checks an already parsed manifest (e.g. one bundled as JSON); `where` names it in errors. */
export function checkManifest(value: unknown, where: string): ModelManifest {
  const m = value as ModelManifest;
  const fail = (what: string): never => {
    throw new InputError('bad_manifest', `${where}: ${what}`);
  };
  if (typeof value !== 'object' || value === null) fail('not a JSON object');
  if (m.format !== FORMAT) fail(`format must be ${FORMAT}, got ${String(m.format)}`);
  // A version is what `<id>@<version>` references match (engine/models/reference.ts).
  if (m.version !== undefined && !MODEL_VERSION.test(String(m.version))) {
    fail(`version must be MAJOR.MINOR.PATCH, got ${JSON.stringify(m.version)}`);
  }
  if (m.configuration !== '2d') fail(`only 2d configurations run here, got ${m.configuration}`);
  const p = m.plans;
  if (!p || p.patch_size?.length !== 2 || p.spacing?.length !== 3) fail('plans need a 2D patch_size and 3 spacings');
  if (p.normalization_schemes.length !== 1) fail('only single-channel models are supported');
  if (m.dataset.regions_class_order) fail('region-based models are not supported yet');
  if (!m.onnx.outputs.some((o) => o.kind === 'segmentation_logits')) fail('no segmentation_logits output');
  if (modelFiles(m).length === 0) fail('no ONNX file listed under files');
  const axes = m.inference.array_axes;
  if (axes !== undefined && axes !== 'nibabel' && axes !== 'nnunet') {
    fail(`inference.array_axes must be 'nibabel' or 'nnunet', got ${JSON.stringify(axes)}`);
  }
  if (m.inference.refine !== undefined) checkRefine(m, fail);
  if (m.inference.bias_correction !== undefined) checkBiasCorrection(m, fail);
  if (m.edge !== undefined) checkEdge(m, fail);
  checkWebGraphs(m, fail);
  if (m.prefers_gpu !== undefined && typeof m.prefers_gpu !== 'boolean') {
    fail(`prefers_gpu must be true or false, got ${JSON.stringify(m.prefers_gpu)}`);
  }
  return m;
}

/** Refinement settings are only for a model with a level-set head, and each is in its range. */
function checkRefine(m: ModelManifest, fail: (what: string) => never): void {
  const r = m.inference.refine as Partial<ManifestRefine> | null;
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return fail('inference.refine must be an object');
  if (!m.onnx.outputs.some((o) => o.kind === 'levelset')) fail('inference.refine needs a levelset output');
  const known = ['levelset_weight', 'iterations', 'band_voxels', 'dt_fraction'];
  const unknown = Object.keys(r).filter((k) => !known.includes(k));
  if (unknown.length > 0) fail(`inference.refine has unknown keys ${unknown.join(', ')}`);
  const w = r.levelset_weight;
  if (typeof w !== 'number' || !(w >= 0 && w <= 1)) {
    fail(`inference.refine.levelset_weight must be in [0, 1], got ${JSON.stringify(w)}`);
  }
  if (!Number.isSafeInteger(r.iterations) || r.iterations! < 0) {
    fail(`inference.refine.iterations must be a non-negative integer, got ${JSON.stringify(r.iterations)}`);
  }
  if (r.band_voxels !== undefined && !(typeof r.band_voxels === 'number' && r.band_voxels > 0 && r.band_voxels < Infinity)) {
    fail(`inference.refine.band_voxels must be a positive number, got ${JSON.stringify(r.band_voxels)}`);
  }
  const dt = r.dt_fraction;
  if (dt !== undefined && !(typeof dt === 'number' && dt > 0 && dt <= 1)) {
    fail(`inference.refine.dt_fraction must be in (0, 1], got ${JSON.stringify(dt)}`);
  }
}

/** The correction reads one of the model's foreground labels and gates on a finite, non-negative sd. */
function checkBiasCorrection(m: ModelManifest, fail: (what: string) => never): void {
  const b = m.inference.bias_correction as Partial<BiasCorrectionSpec> | null;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) return fail('inference.bias_correction must be an object');
  const unknown = Object.keys(b).filter((k) => !['method', 'label', 'min_field_sd'].includes(k));
  if (unknown.length > 0) fail(`inference.bias_correction has unknown keys ${unknown.join(', ')}`);
  if (b.method !== 'wm_log_poly1') {
    fail(`inference.bias_correction.method must be 'wm_log_poly1', got ${JSON.stringify(b.method)}`);
  }
  const labels = Object.values(m.dataset.labels).flat();
  if (!Number.isSafeInteger(b.label) || b.label! <= 0 || b.label! > 255 || !labels.includes(b.label!)) {
    fail(`inference.bias_correction.label must be one of the model's foreground labels, got ${JSON.stringify(b.label)}`);
  }
  const sd = b.min_field_sd;
  if (typeof sd !== 'number' || !(sd >= 0 && sd < Infinity)) {
    fail(`inference.bias_correction.min_field_sd must be a non-negative number, got ${JSON.stringify(sd)}`);
  }
}

/** The edge mark names a listed ONNX file with a checksum (the Worker verifies it) and a voxel budget. */
function checkEdge(m: ModelManifest, fail: (what: string) => never): void {
  const e = m.edge as Partial<EdgeSpec> | null;
  if (typeof e !== 'object' || e === null) return fail('edge must be an object');
  if (typeof e.file !== 'string' || !e.file.endsWith('.onnx')) fail('edge.file must name an ONNX file');
  const sha = m.files[e.file!]?.sha256;
  if (typeof sha !== 'string' || !/^[0-9a-f]{64}$/.test(sha)) {
    fail(`edge.file ${e.file} needs a files entry with its sha256`);
  }
  if (!Number.isSafeInteger(e.max_voxels) || e.max_voxels! <= 0) {
    fail(`edge.max_voxels must be a positive integer, got ${String(e.max_voxels)}`);
  }
  if (e.runtime !== undefined && e.runtime !== 'onnxruntime-web' && e.runtime !== 'unet-wasm') {
    fail(`edge.runtime must be onnxruntime-web or unet-wasm, got ${JSON.stringify(e.runtime)}`);
  }
  if (e.runtime === 'unet-wasm') {
    // It rebuilds a plain U-Net from an exported fold file's float weights: not a web graph, not
    // int8 weights (a DequantizeLinear graph), not nnSAM (training/release.py marks that family
    // prefers_gpu; its stand-ins also carry sam_branch).
    const f = m.files[e.file!];
    if (f?.fold === undefined) fail(`edge.file ${e.file} must be a fold file for the unet-wasm runtime`);
    if (/int8/.test(`${f.precision ?? ''} ${e.file}`)) {
      fail(`edge.file ${e.file}: the unet-wasm runtime reads float weights, not int8`);
    }
    if (m.sam_branch || m.prefers_gpu === true) fail('the unet-wasm edge runtime runs plain U-Nets, not an nnSAM release');
  }
}

/**
 * A web graph stands in for one listed fold file, so it has no fold of its own (modelFiles skips it)
 * and sits beside it; the edge runs a file's web graph whenever it has one, as the `wasm` device does.
 */
function checkWebGraphs(m: ModelManifest, fail: (what: string) => never): void {
  const sources = new Set<string>();
  for (const [name, f] of Object.entries(m.files)) {
    if (f.web_graph_of === undefined) continue;
    const source = m.files[f.web_graph_of];
    if (!name.endsWith('.onnx') || name.includes('/') || f.fold !== undefined) {
      fail(`${name}: a web graph is an ONNX file beside the manifest, without a fold`);
    }
    if (typeof f.web_graph_of !== 'string' || !source || source.fold === undefined || source.web_graph_of !== undefined) {
      fail(`${name}: web_graph_of must name a listed fold file, got ${JSON.stringify(f.web_graph_of)}`);
    }
    if (sources.has(f.web_graph_of)) fail(`${f.web_graph_of} has more than one web graph`);
    sources.add(f.web_graph_of);
  }
  // onnxruntime-web at the edge runs what the `wasm` device runs; the own runtime reads the
  // exported weights, not the web graph's rewritten ones.
  if (m.edge && edgeRuntimeKind(m.edge) === 'onnxruntime-web' && sources.has(m.edge.file)) {
    fail(`edge.file ${m.edge.file} has a web graph: onnxruntime-web at the edge must run it, as the wasm device does`);
  }
}

/** `file`'s onnxruntime-web graph when the release ships one, else `file` itself. */
export function webGraphOf(m: ModelManifest, file: string): string {
  const found = Object.entries(m.files).find(([, f]) => f.web_graph_of === file);
  return found ? found[0] : file;
}

/** Which stored weights to run: the release's `model.onnx`, or one of its variants. */
export type WeightVariant = 'fp32' | 'fp16' | 'int8';

export const WEIGHT_VARIANTS: readonly WeightVariant[] = ['fp32', 'fp16', 'int8'];

const VARIANT_FILE = /\.(fp16|int8)\.onnx$/;

/**
 * The ONNX files of the fold ensemble, in fold order, with `weights` (default `fp32`: the plain
 * `<stem>.onnx`, or its fp16 file when a release ships only that). Throws when a fold lacks the variant.
 */
export function modelFiles(m: ModelManifest, weights: WeightVariant = 'fp32'): string[] {
  const folds = m.inference.folds;
  const listed = Object.entries(m.files).filter(
    ([name, f]) => name.endsWith('.onnx') && !name.includes('/') && f.fold !== undefined && folds.includes(f.fold),
  );
  const isChosen = (name: string): boolean =>
    weights === 'fp32'
      ? !VARIANT_FILE.test(name) || (name.endsWith('.fp16.onnx') && !(name.replace('.fp16.onnx', '.onnx') in m.files))
      : name.endsWith(`.${weights}.onnx`);
  const chosen = listed.filter(([name]) => isChosen(name)).sort((a, b) => (a[1].fold ?? 0) - (b[1].fold ?? 0));
  const missing = folds.filter((fold) => !chosen.some(([, f]) => f.fold === fold));
  if (weights !== 'fp32' && missing.length > 0) {
    const offered = WEIGHT_VARIANTS.filter((w) => w === 'fp32' || listed.some(([name]) => name.endsWith(`.${w}.onnx`)));
    throw new InputError(
      'weights_unavailable',
      `model ${m.id} has no ${weights} weights for fold(s) ${missing.join(', ')} (it ships: ${offered.join(', ')})`,
    );
  }
  return chosen.map(([name]) => name);
}

/** Number of output classes (background included). */
export function classCount(m: ModelManifest): number {
  return Object.keys(m.dataset.labels).length;
}
