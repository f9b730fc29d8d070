/**
 * @module
 * The model registry for Node: resolves a model reference to `models/<id>/` (the current release)
 * or `models/<id>/releases/<version>/` (docs/model-versions.md), reads and checks the manifest,
 * verifies every listed file's SHA-256, and keeps one runtime session per release, fold and device,
 * created on first use and reused after.
 */
import { createHash } from 'node:crypto';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, NotFoundError } from '../errors.js';
import type { Device, InferenceRuntime, RuntimeOptions } from '../runtime/runtime.js';
import { modelFiles, parseManifest, webGraphOf, type ModelManifest, type WeightVariant } from './manifest.js';
import {
  compareVersions,
  formatModelReference,
  MODEL_ID,
  MODEL_VERSION,
  parseModelReference,
  UNVERSIONED,
} from './reference.js';

/** Creates a runtime for one ONNX file on one device. */
export type RuntimeFactory = (model: Uint8Array, device: Device, options: RuntimeOptions) => Promise<InferenceRuntime>;

/** A checksum mismatch or a missing model file. */
export class IntegrityError extends AppError {
  constructor(message: string) {
    super('model_integrity', 500, message);
  }
}

/** One file's check. */
export interface FileCheck {
  name: string;
  bytes: number;
  sha256Ok: boolean;
}

/** What `nnsam models` shows about one installed version of a model. */
export interface ModelSummary {
  id: string;
  version: string;
  /** The release `<id>` alone names (the top folder). */
  current: boolean;
  /** The folder, relative to the models root: `<id>` or `<id>/releases/<version>`. */
  folder: string;
  configuration: string;
  labels: Record<string, number | number[]>;
  patchSize: number[];
  spacing: number[];
  folds: number[];
  standIn: boolean;
  files: FileCheck[];
  ok: boolean;
}

/** One installed release: where it lives and whether it is the current one. */
export interface InstalledVersion {
  id: string;
  version: string;
  current: boolean;
  /** Relative to the models root. */
  folder: string;
}

/** A loaded model: its manifest and where it lives. */
export interface LoadedModel {
  id: string;
  /** The release that a reference resolved to (docs/model-versions.md). */
  version: string;
  current: boolean;
  dir: string;
  manifest: ModelManifest;
  /** ONNX files of the ensemble, one per fold (fp32 weights). */
  onnxFiles: string[];
}

/** A reference resolved to one release's folder and manifest, files not yet checked. */
interface Resolved extends InstalledVersion {
  dir: string;
  manifest: ModelManifest;
}

/** Older releases of `models/<id>/` live in `models/<id>/releases/<version>/`. */
const RELEASES = 'releases';

/**
 * A file's size and SHA-256, read through one reused 1 MiB buffer: verifying a release reads every
 * weight variant, and whole-file reads (or a stream's fresh chunks, garbage until the next
 * collection) raised a process's peak memory by tens of MB (docs/nnunet-inference.md, Memory).
 */
async function hashFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  const chunk = new Uint8Array(1 << 20);
  let bytes = 0;
  const file = await open(path, 'r');
  try {
    for (;;) {
      const { bytesRead } = await file.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      hash.update(chunk.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } finally {
    await file.close();
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * Models under one root folder, by reference (`<id>` or `<id>@<version>`, engine/models/reference.ts):
 * `models/<id>/` is the current release, `models/<id>/releases/<version>/` the older ones.
 */
export class ModelRegistry {
  private readonly sessions = new Map<string, Promise<InferenceRuntime>>();
  private readonly loaded = new Map<string, Promise<LoadedModel>>();

  constructor(
    private readonly root: string,
    private readonly factory: RuntimeFactory,
  ) {}

  /** Ids of the folders that hold a manifest.json, sorted. */
  async ids(): Promise<string[]> {
    let entries: string[];
    try {
      entries = await readdir(this.root);
    } catch {
      return [];
    }
    const ids: string[] = [];
    for (const e of entries.sort()) {
      if (await exists(join(this.root, e, 'manifest.json'))) ids.push(e);
    }
    return ids;
  }

  /**
   * The installed releases of `id`, current first, then the others newest first. A release folder
   * with the current version is left out: `<id>@<that version>` names the top folder.
   */
  async versions(id: string): Promise<InstalledVersion[]> {
    const top = await this.readTop(id);
    const out: InstalledVersion[] = [installed(top)];
    let entries: string[];
    try {
      entries = await readdir(join(this.root, id, RELEASES));
    } catch {
      return out;
    }
    const older = entries
      .filter((v) => MODEL_VERSION.test(v) && v !== top.version)
      .sort((a, b) => compareVersions(b, a));
    for (const v of older) {
      if (await exists(join(this.root, id, RELEASES, v, 'manifest.json'))) {
        out.push({ id, version: v, current: false, folder: join(id, RELEASES, v) });
      }
    }
    return out;
  }

  /**
   * The release `reference` names: its id's top folder for `<id>` and `<id>@<current version>`,
   * `releases/<version>/` otherwise. 422 `bad_model_reference` for a malformed reference, 404
   * `model_not_found` (with what is installed, no paths: nodes send it to clients) for an unknown
   * id or version.
   */
  async resolve(reference: string): Promise<InstalledVersion> {
    const { id, version, current, folder } = await this.resolveManifest(reference);
    return { id, version, current, folder };
  }

  /** Reads and checks the manifest `reference` names and verifies every listed file (once per registry). */
  async load(reference: string): Promise<LoadedModel> {
    const r = await this.resolveManifest(reference);
    const key = formatModelReference(r.id, r.version);
    let p = this.loaded.get(key);
    if (!p) {
      p = this.verify(r);
      this.loaded.set(key, p);
      p.catch(() => this.loaded.delete(key));
    }
    return p;
  }

  /** The manifest, the file checks and a one-line verdict, without failing on a bad checksum. */
  async summary(reference: string): Promise<ModelSummary> {
    const r = await this.resolveManifest(reference);
    const files = await this.checkFiles(r.dir, r.manifest);
    return {
      id: r.id,
      version: r.version,
      current: r.current,
      folder: r.folder,
      configuration: r.manifest.configuration,
      labels: r.manifest.dataset.labels,
      patchSize: r.manifest.plans.patch_size,
      spacing: r.manifest.plans.spacing,
      folds: r.manifest.inference.folds,
      standIn: r.manifest.stand_in === true,
      files,
      ok: files.every((f) => f.sha256Ok),
    };
  }

  /** Every installed release of every model, each id's current one first. */
  async summaries(): Promise<ModelSummary[]> {
    const out: ModelSummary[] = [];
    for (const id of await this.ids()) {
      for (const v of await this.versions(id)) {
        out.push(await this.summary(formatModelReference(v.id, v.version)));
      }
    }
    return out;
  }

  /**
   * The runtimes of the fold ensemble `reference` names, on `device`, created once per release and
   * shared by every caller; `weights` picks a variant the release ships (default fp32). On `wasm`
   * (onnxruntime-web) a file's web graph runs in its place when the release ships one: the same
   * weights, the graph the edge and the browser run (docs/platform.md).
   */
  async runtimes(
    reference: string,
    device: Device,
    options: RuntimeOptions = {},
    weights: WeightVariant = 'fp32',
  ): Promise<InferenceRuntime[]> {
    const model = await this.load(reference);
    const release = formatModelReference(model.id, model.version);
    const chosen = weights === 'fp32' ? model.onnxFiles : modelFiles(model.manifest, weights);
    const files = device === 'wasm' ? chosen.map((f) => webGraphOf(model.manifest, f)) : chosen;
    return Promise.all(
      files.map((file) => {
        const key = `${release}\u0000${file}\u0000${device}\u0000${options.threads ?? 1}`;
        let s = this.sessions.get(key);
        if (!s) {
          // A view of the file's Buffer, not a copy: the session makes its own, and a third copy of
          // the weights would sit in the peak (docs/nnunet-inference.md, Memory).
          s = readFile(join(model.dir, file)).then((b) =>
            this.factory(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), device, options),
          );
          this.sessions.set(key, s);
          s.catch(() => this.sessions.delete(key));
        }
        return s;
      }),
    );
  }

  /** Releases every session. */
  async dispose(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map(async (s) => (await s).dispose()));
  }

  private async verify(r: Resolved): Promise<LoadedModel> {
    const bad = (await this.checkFiles(r.dir, r.manifest)).filter((f) => !f.sha256Ok);
    if (bad.length > 0) {
      throw new IntegrityError(
        `model ${formatModelReference(r.id, r.version)}: SHA-256 mismatch or missing file: ${bad.map((f) => f.name).join(', ')}`,
      );
    }
    const { id, version, current, dir, manifest } = r;
    return { id, version, current, dir, manifest, onnxFiles: modelFiles(manifest) };
  }

  private async resolveManifest(reference: string): Promise<Resolved> {
    const { id, version } = parseModelReference(reference);
    const top = await this.readTop(id);
    if (version === null || version === top.version) return top;
    const folder = join(id, RELEASES, version);
    const text = await readFile(join(this.root, folder, 'manifest.json'), 'utf8').catch(() => null);
    if (text === null) {
      const known = (await this.versions(id)).map((v) => (v.current ? `${v.version} (current)` : v.version));
      throw new NotFoundError(
        'model_not_found',
        `no version ${version} of model '${id}' (installed: ${known.join(', ')})`,
      );
    }
    const manifest = parseManifest(text, join(this.root, folder, 'manifest.json'));
    if (manifest.id !== id || manifest.version !== version) {
      throw new IntegrityError(
        `${folder}/manifest.json is ${formatModelReference(manifest.id, manifest.version ?? UNVERSIONED)}, not ${formatModelReference(id, version)}`,
      );
    }
    return { id, version, current: false, folder, dir: join(this.root, folder), manifest };
  }

  /** The top folder of `id`: its current release. */
  private async readTop(id: string): Promise<Resolved> {
    if (!MODEL_ID.test(id)) throw new NotFoundError('model_not_found', `bad model id '${id}'`);
    const dir = join(this.root, id);
    let text: string;
    try {
      text = await readFile(join(dir, 'manifest.json'), 'utf8');
    } catch {
      const known = await this.ids();
      throw new NotFoundError(
        'model_not_found',
        `no model '${id}' (installed: ${known.join(', ') || 'none'})`,
      );
    }
    const manifest = parseManifest(text, join(dir, 'manifest.json'));
    return { id, version: manifest.version ?? UNVERSIONED, current: true, folder: id, dir, manifest };
  }

  private async checkFiles(dir: string, manifest: ModelManifest): Promise<FileCheck[]> {
    const checks: FileCheck[] = [];
    for (const [name, f] of Object.entries(manifest.files)) {
      if (!f.sha256) continue;
      try {
        const h = await hashFile(join(dir, name));
        checks.push({ name, bytes: h.bytes, sha256Ok: h.sha256 === f.sha256 });
      } catch {
        checks.push({ name, bytes: 0, sha256Ok: false });
      }
    }
    return checks;
  }
}

function installed(r: Resolved): InstalledVersion {
  return { id: r.id, version: r.version, current: r.current, folder: r.folder };
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
