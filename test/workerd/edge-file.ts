/**
 * @module
 * The current release's edge file as a Worker test puts it into MODELS: its key and bytes, both read
 * from the shipped manifest (`edge.file`), never assumed (docs/model-versions.md).
 */
import { readFileSync } from 'node:fs';
import { releaseFileKey } from '../../engine/models/reference.js';
import { REPO_ROOT } from '../support/goldens.js';

export interface EdgeFile {
  /** The `<id>@<version>/<file>` key the Worker reads it from. */
  key: string;
  /** The current release's version. */
  version: string;
  file: string;
  bytes: Uint8Array;
}

export function currentEdgeFile(model: string): EdgeFile {
  const dir = `${REPO_ROOT}models/${model}/`;
  const m = JSON.parse(readFileSync(`${dir}manifest.json`, 'utf8')) as {
    version: string;
    edge: { file: string };
  };
  return {
    key: releaseFileKey(model, m.version, m.edge.file),
    version: m.version,
    file: m.edge.file,
    bytes: new Uint8Array(readFileSync(dir + m.edge.file)),
  };
}
