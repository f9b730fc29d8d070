import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readNpy, type NpyArray } from './npy.js';

/** Repository root, from this file's compiled location (dist/test/support/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The shared data folder beside the repository. */
export const SHARED_DATA = fileURLToPath(new URL('../../../../shared/data/', import.meta.url));

/** Golden-file reader for one kernel family written by test/parity/make_goldens.py. */
export function goldens<Case>(family: string): { cases: Case[]; npy(file: string): NpyArray } {
  const dir = `${REPO_ROOT}test/parity/goldens/${family}/`;
  return {
    cases: JSON.parse(readFileSync(`${dir}cases.json`, 'utf8')) as Case[],
    npy: (file: string) => readNpy(dir + file),
  };
}
