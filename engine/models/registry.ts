/**
 * @module
 * The model registry for Node: finds `models/<id>/`, reads and checks the manifest, verifies every
 * listed file's SHA-256, and keeps one runtime session per model, fold and device, created on first
 * use and reused after.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, NotFoundError } from '../errors.js';
import type { Device, InferenceRuntime, RuntimeOptions } from '../runtime/runtime.js';
import { modelFiles, parseManifest, type ModelManifest, type WeightVariant } from './manifest.js';

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

/** What `nnsam models` shows about a model. */
export interface ModelSummary {
  id: string;
  version: string | null;
  configuration: string;
  labels: Record<string, number | number[]>;
  patchSize: number[];
  spacing: number[];
  folds: number[];
  standIn: boolean;
  files: FileCheck[];
  ok: boolean;
}

/** A loaded model: its manifest and where it lives. */
export interface LoadedModel {
  id: string;
  dir: string;
  manifest: ModelManifest;
  /** ONNX files of the ensemble, one per fold (fp32 weights). */
  onnxFiles: string[];
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Models under one root folder. */
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

  /** Reads and checks `id`'s manifest and verifies every listed file (once per registry). */
  load(id: string): Promise<LoadedModel> {
    let p = this.loaded.get(id);
    if (!p) {
      p = this.loadUncached(id);
      this.loaded.set(id, p);
      p.catch(() => this.loaded.delete(id));
    }
    return p;
  }

  /** The manifest, the file checks and a one-line verdict, without failing on a bad checksum. */
  async summary(id: string): Promise<ModelSummary> {
    const { dir, manifest } = await this.readManifest(id);
    const files = await this.checkFiles(dir, manifest);
    return {
      id,
      version: manifest.version ?? null,
      configuration: manifest.configuration,
      labels: manifest.dataset.labels,
      patchSize: manifest.plans.patch_size,
      spacing: manifest.plans.spacing,
      folds: manifest.inference.folds,
      standIn: manifest.stand_in === true,
      files,
      ok: files.every((f) => f.sha256Ok),
    };
  }

  /**
   * The runtimes of `id`'s fold ensemble on `device`, created once and shared by every caller;
   * `weights` picks a variant the release ships (default fp32).
   */
  async runtimes(
    id: string,
    device: Device,
    options: RuntimeOptions = {},
    weights: WeightVariant = 'fp32',
  ): Promise<InferenceRuntime[]> {
    const model = await this.load(id);
    const files = weights === 'fp32' ? model.onnxFiles : modelFiles(model.manifest, weights);
    return Promise.all(
      files.map((file) => {
        const key = `${id}\u0000${file}\u0000${device}\u0000${options.threads ?? 1}`;
        let s = this.sessions.get(key);
        if (!s) {
          s = readFile(join(model.dir, file)).then((b) => this.factory(new Uint8Array(b), device, options));
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

  private async loadUncached(id: string): Promise<LoadedModel> {
    const { dir, manifest } = await this.readManifest(id);
    const bad = (await this.checkFiles(dir, manifest)).filter((f) => !f.sha256Ok);
    if (bad.length > 0) {
      throw new IntegrityError(`model ${id}: SHA-256 mismatch or missing file: ${bad.map((f) => f.name).join(', ')}`);
    }
    return { id, dir, manifest, onnxFiles: modelFiles(manifest) };
  }

  private async readManifest(id: string): Promise<{ dir: string; manifest: ModelManifest }> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id)) throw new NotFoundError('model_not_found', `bad model id '${id}'`);
    const dir = join(this.root, id);
    let text: string;
    try {
      text = await readFile(join(dir, 'manifest.json'), 'utf8');
    } catch {
      const known = await this.ids();
      throw new NotFoundError(
        'model_not_found',
        `no model '${id}' in ${this.root} (installed: ${known.join(', ') || 'none'})`,
      );
    }
    return { dir, manifest: parseManifest(text, join(dir, 'manifest.json')) };
  }

  private async checkFiles(dir: string, manifest: ModelManifest): Promise<FileCheck[]> {
    const checks: FileCheck[] = [];
    for (const [name, f] of Object.entries(manifest.files)) {
      if (!f.sha256) continue;
      try {
        const bytes = new Uint8Array(await readFile(join(dir, name)));
        checks.push({ name, bytes: bytes.length, sha256Ok: sha256(bytes) === f.sha256 });
      } catch {
        checks.push({ name, bytes: 0, sha256Ok: false });
      }
    }
    return checks;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
