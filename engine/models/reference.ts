/**
 * @module
 * Model references, the one syntax every entry point takes (the CLI's `--model`, the node's run
 * request, the API's `model`): `<id>` for the current release of a model, `<id>@<version>` for one
 * release, the version being semver `MAJOR.MINOR.PATCH` (docs/model-versions.md). Runs in Node and
 * workerd alike (no `node:` imports).
 */
import { InputError } from '../errors.js';

/** A model id: what a manifest's `id` may be, and the part of a reference before `@`. */
export const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A release version, `MAJOR.MINOR.PATCH` without leading zeros (semver 2.0.0, no pre-release or build). */
export const MODEL_VERSION = /^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})$/;

/** A model reference, `<id>` or `<id>@<version>`, as one pattern (for request schemas). */
export const MODEL_REFERENCE = new RegExp(
  `^${MODEL_ID.source.slice(1, -1)}(@${MODEL_VERSION.source.slice(1, -1)})?$`,
);

/** What a manifest without a `version` counts as (manifests from before versions). */
export const UNVERSIONED = '0.0.0';

/** A parsed reference; `version` null: the current release. */
export interface ModelReference {
  id: string;
  version: string | null;
}

/** What a malformed reference is told, wherever it came from. */
export const REFERENCE_SYNTAX = 'a model reference is ID or ID@MAJOR.MINOR.PATCH, e.g. brain-wm-2d@1.2.0';

/** Parses `text` as a model reference; 422 `bad_model_reference` when it is not one. */
export function parseModelReference(text: string): ModelReference {
  if (!MODEL_REFERENCE.test(text)) {
    throw new InputError('bad_model_reference', `bad model reference '${text}': ${REFERENCE_SYNTAX}`);
  }
  const at = text.indexOf('@');
  return at < 0 ? { id: text, version: null } : { id: text.slice(0, at), version: text.slice(at + 1) };
}

/** `<id>@<version>`: the reference that names exactly one release. */
export function formatModelReference(id: string, version: string): string {
  return `${id}@${version}`;
}

/** Semver order of two release versions (negative when `a` is older). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

/**
 * The key of one release's file in a bucket of model files (the Worker's MODELS):
 * `<id>@<version>/<file>`, so that two releases' files of the same name never overwrite each other.
 */
export function releaseFileKey(id: string, version: string, file: string): string {
  return `${formatModelReference(id, version)}/${file}`;
}
