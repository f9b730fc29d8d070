/**
 * @module
 * The public description of a model (`GET /v1/models`), derived from its manifest.
 */
import { NotFoundError, checkManifest, type ApiModel, type ModelManifest } from '../../engine/edge.js';
import { MANIFESTS } from './manifests.js';

/**
 * A model as the API lists it, price aside (the route adds it from the price table). The wire type
 * is the typed client's, so the two cannot drift.
 */
export type ModelInfo = Omit<ApiModel, 'price'>;

// 2D models take single images too; 3D ones need volumes. A DICOM series comes as a zip.
const INPUTS_3D = ['application/x-nifti', 'application/gzip', 'application/dicom', 'application/zip'];
const INPUTS_2D = [...INPUTS_3D, 'image/png', 'image/jpeg'];

/**
 * Validates a bundled manifest with the engine's one manifest check and describes its model;
 * throws on a manifest the API cannot read.
 */
export function describeModel(manifest: unknown): ModelInfo {
  const m = checkManifest(manifest, 'bundled manifest');
  const onnx = m.files['model.onnx'];
  if (!onnx?.sha256) throw new Error(`manifest ${m.id}: no model.onnx entry with a sha256`);
  return {
    id: m.id,
    name: m.name ?? m.id,
    version: `${m.version ?? '0.0.0'}+sha256.${onnx.sha256.slice(0, 12)}`,
    configuration: m.configuration,
    modality: m.modality ?? Object.values(m.dataset.channel_names),
    labels: m.dataset.labels,
    accepted_inputs: m.configuration.startsWith('2d') ? INPUTS_2D : INPUTS_3D,
    spacing: m.plans.spacing,
    stand_in: m.stand_in ?? false,
  };
}

/** Every bundled model, parsed once per isolate. */
export const CATALOG: readonly ModelInfo[] = MANIFESTS.map(describeModel);

/** The bundled model `id`; 404 `model_not_found` otherwise. */
export function findModel(id: string): ModelInfo {
  const model = CATALOG.find((m) => m.id === id);
  if (!model) throw new NotFoundError('model_not_found', `No model '${id}'; GET /v1/models lists them.`);
  return model;
}

const checked = new Map<string, ModelManifest>();

/**
 * The bundled manifest of `id` through the engine's one manifest check, once per isolate: what the
 * cost model and the edge runtime read. 404 `model_not_found` for an unknown id.
 */
export function bundledManifest(id: string): ModelManifest {
  let manifest = checked.get(id);
  if (!manifest) {
    findModel(id);
    const raw = MANIFESTS.find((m) => (m as { id?: unknown }).id === id);
    manifest = checkManifest(raw, `bundled manifest ${id}`);
    checked.set(id, manifest);
  }
  return manifest;
}
