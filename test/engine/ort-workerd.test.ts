/**
 * The edge runtimes inside workerd (Miniflare), loaded from their pre-compiled modules as the edge
 * does, on the model's parity input, within the model's parity tolerance: onnxruntime-web against
 * onnxruntime-node, and the own U-Net runtime (its relaxed-SIMD build, which Node 20 does not run
 * by default) against the PyTorch golden.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Miniflare } from 'miniflare';
import { createOrtNodeCpu } from '../../engine/runtime/ort-node.js';
import { readNpy } from '../support/npy.js';
import { MODELS_DIR, MODEL_ID, REPO } from './engine-helpers.js';

let mf: Miniflare;

before(async () => {
  const { startBundledWorker } = await import('../workerd/miniflare-bundle.js');
  mf = startBundledWorker(
    join(REPO, 'test/engine/ort-probe.wrangler.toml'),
    join(REPO, 'dist/workerd-ort-probe'),
  );
});

after(async () => {
  await mf?.dispose();
});

const dir = join(MODELS_DIR, MODEL_ID);
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
  parity_tolerance: number;
};
const model = new Uint8Array(readFileSync(join(dir, 'model.onnx')));
const input = readNpy(join(dir, 'parity/input.npy'));
const x = Float32Array.from(input.data as Float32Array);

/** The first output of `runtime` on the parity input inside workerd. */
async function inWorkerd(runtime: string): Promise<Float32Array> {
  const body = new Uint8Array(4 + model.length + x.byteLength);
  new DataView(body.buffer).setUint32(0, model.length, true);
  body.set(model, 4);
  body.set(new Uint8Array(x.buffer), 4 + model.length);
  const res = await mf.dispatchFetch(`http://probe/?dims=${input.shape.join(',')}&runtime=${runtime}`, {
    method: 'POST',
    body,
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('x-provider'), 'wasm');
  return new Float32Array(await res.arrayBuffer());
}

function worstDiff(a: Float32Array, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

test('onnxruntime-web in workerd matches onnxruntime-node on the parity input', async () => {
  const edge = await inWorkerd('onnxruntime-web');
  const node = await createOrtNodeCpu(model, { threads: 1 });
  try {
    const worst = worstDiff(edge, (await node.run(x, input.shape))[node.outputNames[0]].data);
    assert.ok(worst <= manifest.parity_tolerance, `max |workerd - node| = ${worst}`);
  } finally {
    await node.dispose();
  }
});

test('the own U-Net runtime in workerd (relaxed SIMD) matches the PyTorch golden on the parity input', async (t) => {
  const worst = worstDiff(
    await inWorkerd('unet-wasm'),
    readNpy(join(dir, 'parity/logits.npy')).data as Float32Array,
  );
  t.diagnostic(`max |workerd - PyTorch| = ${worst}`);
  assert.ok(worst <= manifest.parity_tolerance, `max |workerd - PyTorch| = ${worst}`);
});
