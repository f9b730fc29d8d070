/**
 * @module
 * Where the CLI finds models and how it builds the registry: `--models DIR`, else the package's
 * own `models/` folder.
 */
import { fileURLToPath } from 'node:url';
import { ModelRegistry } from '../models/registry.js';
import { nodeRuntimeFactory } from '../runtime/node-factory.js';

/** The package's `models/` folder (this file compiles to dist/engine/cli/). */
export const DEFAULT_MODELS_DIR = fileURLToPath(new URL('../../../models', import.meta.url));

/** A registry over `dir` with the Node runtime adapters. */
export function cliRegistry(dir: string | undefined): ModelRegistry {
  return new ModelRegistry(dir ?? DEFAULT_MODELS_DIR, nodeRuntimeFactory);
}
