/**
 * The Worker's edge-runtime loader (worker/edge/edge-runtime.ts) inside workerd, under each runtime
 * a manifest's `edge.runtime` can name. The shipped brain-wm-2d manifests all name `unet-wasm`, so
 * the Worker tests (api-edge.test.ts) never reach the onnxruntime-web branch; a release without the
 * field (an nnSAM release, say) would. Both run the model's parity input from MODELS, within the
 * manifest's parity tolerance of onnxruntime-node on the same file, and a file the named runtime
 * cannot rebuild is refused, which sends the run to a node. The web graph's 200 under an absent
 * field is therefore onnxruntime-web's: the own runtime refuses that file (the last test).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Miniflare } from 'miniflare';
import { releaseFileKey } from '../../engine/models/reference.js';
import { createOrtNodeCpu } from '../../engine/runtime/ort-node.js';
import { REPO_ROOT } from '../support/goldens.js';
import { readNpy } from '../support/npy.js';
import { bundleWorker, COMPAT } from './miniflare-bundle.js';

const DIR = `${REPO_ROOT}models/brain-wm-2d/`;
const manifest = JSON.parse(readFileSync(`${DIR}manifest.json`, 'utf8')) as {
  id: string;
  version: string;
  parity_tolerance: number;
  edge: { max_voxels: number };
};
const input = readNpy(`${DIR}parity/input.npy`);
const x = Float32Array.from(input.data as Float32Array);
const fileBytes = (file: string) => new Uint8Array(readFileSync(`${DIR}${file}`));

let mf: Miniflare;

before(async () => {
  mf = new Miniflare({
    ...bundleWorker(
      `${REPO_ROOT}test/workerd/edge-runtime-probe.wrangler.toml`,
      `${REPO_ROOT}dist/workerd-edge-runtime-probe`,
    ),
    ...COMPAT,
    r2Buckets: ['MODELS'],
  });
  const models = await mf.getR2Bucket('MODELS');
  for (const file of ['model.web.onnx', 'model.fp16.onnx']) {
    await models.put(releaseFileKey(manifest.id, manifest.version, file), fileBytes(file));
  }
});

after(async () => {
  await mf?.dispose();
});

/** The probe's answer for the parity input under the edge mark `edge`. */
async function underEdge(edge: object) {
  const query = new URLSearchParams({ edge: JSON.stringify(edge), dims: input.shape.join(',') });
  return mf.dispatchFetch(`http://probe/?${query}`, { method: 'POST', body: new Uint8Array(x.buffer) });
}

/** Worst |a - b| against onnxruntime-node's first output on `file`. */
async function worstAgainstNode(a: Float32Array, file: string): Promise<number> {
  const node = await createOrtNodeCpu(fileBytes(file), { threads: 1 });
  try {
    const b = (await node.run(x, input.shape))[node.outputNames[0]].data;
    assert.equal(a.length, b.length);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    return worst;
  } finally {
    await node.dispose();
  }
}

for (const [runtime, file] of [
  [undefined, 'model.web.onnx'],
  ['onnxruntime-web', 'model.web.onnx'],
  ['unet-wasm', 'model.fp16.onnx'],
] as const) {
  test(`edge.runtime ${runtime ?? 'absent (onnxruntime-web)'} on ${file} loads from MODELS and matches onnxruntime-node`, async (t) => {
    const res = await underEdge({
      file,
      max_voxels: manifest.edge.max_voxels,
      ...(runtime ? { runtime } : {}),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get('x-provider'), 'wasm');
    const worst = await worstAgainstNode(new Float32Array(await res.arrayBuffer()), file);
    t.diagnostic(`max |workerd - onnxruntime-node| = ${worst}`);
    assert.ok(worst <= manifest.parity_tolerance, `max |workerd - onnxruntime-node| = ${worst}`);
  });
}

test('a web graph under edge.runtime unet-wasm is refused (the run goes to a node)', async () => {
  const res = await underEdge({
    file: 'model.web.onnx',
    max_voxels: manifest.edge.max_voxels,
    runtime: 'unet-wasm',
  });
  assert.equal(res.status, 409);
  assert.match(await res.text(), /model\.web\.onnx/);
});
