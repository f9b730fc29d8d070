/**
 * @module
 * The models the API offers, from their bundled manifests: the public description (`GET /v1/models`)
 * and the release a model reference names (`<id>` or `<id>@<version>`, docs/model-versions.md).
 */
import {
  NotFoundError,
  checkManifest,
  compareVersions,
  formatModelReference,
  parseModelReference,
  UNVERSIONED,
  type ApiModel,
  type ApiModelVersion,
  type ModelManifest,
} from '../../engine/edge.js';
import { MANIFESTS } from './manifests.js';

/**
 * A model as the API lists it, price aside (the route adds it from the price table). The wire type
 * is the typed client's, so the two cannot drift.
 */
export type ModelInfo = Omit<ApiModel, 'price'>;

/** One release the Worker can run. */
export interface ModelRelease {
  id: string;
  version: string;
  /** `<id>@<version>`: what a node is asked to run, so that it runs this release whatever its current one. */
  reference: string;
  /** The release `<id>` alone names. */
  current: boolean;
  manifest: ModelManifest;
}

// 2D models take single images too; 3D ones need volumes. A DICOM series comes as a zip.
const INPUTS_3D = ['application/x-nifti', 'application/gzip', 'application/dicom', 'application/zip'];
const INPUTS_2D = [...INPUTS_3D, 'image/png', 'image/jpeg'];

/** `<version>+sha256.<12 hex of model.onnx>`: a release and the exact weights it ships. */
function buildOf(m: ModelManifest): string {
  const onnx = m.files['model.onnx'];
  if (!onnx?.sha256) throw new Error(`manifest ${m.id}: no model.onnx entry with a sha256`);
  return `${m.version ?? UNVERSIONED}+sha256.${onnx.sha256.slice(0, 12)}`;
}

/**
 * A bundled model's releases through the engine's one manifest check, current first, then the
 * older ones newest first; a release folder with the current version is left out (the reference
 * names the current one). Throws on a manifest the API cannot read or that sits in the wrong folder.
 */
function releasesOf(manifests: readonly unknown[]): ModelRelease[] {
  const [current, ...older] = manifests.map((raw) => checkManifest(raw, 'bundled manifest'));
  const release = (m: ModelManifest, isCurrent: boolean): ModelRelease => {
    const version = m.version ?? UNVERSIONED;
    return {
      id: m.id,
      version,
      reference: formatModelReference(m.id, version),
      current: isCurrent,
      manifest: m,
    };
  };
  const out = [release(current, true)];
  for (const m of older) {
    if (m.id !== current.id || m.version === undefined) {
      throw new Error(`bundled release ${m.id}@${m.version} is filed under ${current.id}`);
    }
    if (m.version !== out[0].version) out.push(release(m, false));
  }
  return [out[0], ...out.slice(1).sort((a, b) => compareVersions(b.version, a.version))];
}

/** The public description of a model: its current release, and every release it offers. */
export function describeModel(releases: readonly ModelRelease[]): ModelInfo {
  const m = releases[0].manifest;
  const versions: ApiModelVersion[] = releases.map((r) => ({
    version: r.version,
    reference: r.reference,
    current: r.current,
    build: buildOf(r.manifest),
    labels: r.manifest.dataset.labels,
  }));
  return {
    id: m.id,
    name: m.name ?? m.id,
    version: buildOf(m),
    versions,
    configuration: m.configuration,
    modality: m.modality ?? Object.values(m.dataset.channel_names),
    labels: m.dataset.labels,
    accepted_inputs: m.configuration.startsWith('2d') ? INPUTS_2D : INPUTS_3D,
    spacing: m.plans.spacing,
    stand_in: m.stand_in ?? false,
  };
}

/** Every bundled model's releases, checked once per isolate. */
const RELEASES: ReadonlyMap<string, readonly ModelRelease[]> = new Map(
  MANIFESTS.map((manifests) => {
    const releases = releasesOf(manifests);
    return [releases[0].id, releases];
  }),
);

/** Every bundled model. */
export const CATALOG: readonly ModelInfo[] = [...RELEASES.values()].map(describeModel);

const unknownModel = (id: string) =>
  new NotFoundError('model_not_found', `No model '${id}'; GET /v1/models lists them.`);

/** The bundled model `id`; 404 `model_not_found` otherwise. */
export function findModel(id: string): ModelInfo {
  const model = CATALOG.find((m) => m.id === id);
  if (!model) throw unknownModel(id);
  return model;
}

/**
 * The release `reference` names: the current one for `<id>`, that version's for `<id>@<version>`.
 * 422 `bad_model_reference` when malformed (the routes' schemas refuse it first), 404
 * `model_not_found` for an unknown id or version, with the versions on offer.
 */
export function resolveModel(reference: string): ModelRelease {
  const { id, version } = parseModelReference(reference);
  const releases = RELEASES.get(id);
  if (!releases) throw unknownModel(id);
  const release = version === null ? releases[0] : releases.find((r) => r.version === version);
  if (!release) {
    const offered = releases.map((r) => (r.current ? `${r.version} (current)` : r.version)).join(', ');
    throw new NotFoundError(
      'model_not_found',
      `No version ${version} of model '${id}' (offered: ${offered}); GET /v1/models lists them.`,
    );
  }
  return release;
}
