// An inference node killed mid-job (SIGKILL, as a crash): the job moves to the other node and is
// charged once with the engine's label map; when the last node dies, the job fails cleanly and is
// not charged. Real `nnsam serve` processes on loopback, the Worker in workerd.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { uploadClient, uploadWhole } from './api-checks.js';
import { startApi, type ApiWorld } from './api-world.js';
import { startNode, type InferenceNode } from './inference-nodes.js';
import { directLabels, fsbSlab, labelsOfNiftiGz, priceOf, PRICES, SLICE } from './job-fixtures.js';
import { jobClient, type Job } from './job-client.js';

const SLAB = fsbSlab(128);
let w: ApiWorld;
let nodes: InferenceNode[];
let jobs: ReturnType<typeof jobClient>;
let uploadId: string;

before(async () => {
  nodes = await Promise.all([startNode(), startNode()]);
  w = await startApi('node-failure', {
    vars: { INFERENCE_NODES: nodes.map((n) => n.url).join(','), DEFAULT_PRICES: JSON.stringify(PRICES) },
  });
  const key = await w.key('acme');
  jobs = jobClient(w, key);
  uploadId = await uploadWhole(uploadClient(w, key), SLAB);
});

after(async () => {
  await w?.dispose();
  await Promise.all(nodes.map((n) => n.kill()));
});

/** The live node that is running something now. */
async function busyNode(): Promise<InferenceNode> {
  for (;;) {
    for (const n of nodes) {
      if (n.child.exitCode !== null || n.child.signalCode !== null) continue;
      const h = (await (await fetch(`${n.url}/healthz`)).json()) as { running: number };
      if (h.running > 0) return n;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function chargesOf(id: string): Promise<number[]> {
  const res = await w.fetch('/v1/usage', { headers: jobs.auth });
  const usage = (await res.json()) as { charges: { job_id: string; amount_micros: number }[] };
  return usage.charges.filter((c) => c.job_id === id).map((c) => c.amount_micros);
}

test('a node killed mid-job: the job completes on the other node, charged once', async () => {
  const job = (await (
    await jobs.create({ upload_id: uploadId, model: 'brain-wm-2d', options: { tta: false } })
  ).json()) as Job;
  await jobs.waitFor(job.id, (j) => j.progress.stage === 'predict' && j.progress.done >= 1);
  const victim = await busyNode();
  await victim.kill();
  const final = await jobs.waitFinal(job.id);
  assert.equal(final.status, 'succeeded', JSON.stringify(final.error));
  assert.equal(final.attempts, 2, 'one run on the killed node, one on the survivor');
  assert.deepEqual(await chargesOf(job.id), [priceOf(SLAB_VOXELS)]);
  const bytes = new Uint8Array(await (await jobs.result(job.id)).arrayBuffer());
  const direct = await directLabels(SLAB, false);
  assert.ok(labelsOfNiftiGz(bytes).labels.equals(direct.labels));
});

test('the last node killed mid-job: the job fails with no_inference_node and is not charged', async () => {
  const job = (await (
    await jobs.create({ upload_id: uploadId, model: 'brain-wm-2d', options: { tta: false } })
  ).json()) as Job;
  await jobs.waitFor(job.id, (j) => j.progress.stage === 'predict' && j.progress.done >= 1);
  await (await busyNode()).kill();
  const final = await jobs.waitFinal(job.id);
  assert.equal(final.status, 'failed');
  assert.equal(final.error?.type, 'https://nnsam-edge.dev/problems/no_inference_node');
  assert.equal(final.charge, null);
  assert.deepEqual(await chargesOf(job.id), []);
  const results = await w.mf.getR2Bucket('RESULTS', 'api');
  assert.equal((await results.list({ prefix: `results/acme/${job.id}/` })).objects.length, 0);

  // With every node down, a new job fails at once, uncharged, and frees its slot.
  const next = (await (await jobs.create({ upload_id: uploadId, model: 'brain-wm-2d' })).json()) as Job;
  const nextFinal = await jobs.waitFinal(next.id, 30_000);
  assert.equal(nextFinal.status, 'failed');
  assert.deepEqual(await chargesOf(next.id), []);
  // A one-shot request is told to come back later.
  const seg = await w.fetch('/v1/segment?model=brain-wm-2d', {
    method: 'POST',
    headers: jobs.auth,
    body: SLICE as unknown as BodyInit,
  });
  assert.equal(seg.status, 503);
  assert.ok(Number(seg.headers.get('retry-after')) > 0);
  assert.equal(
    ((await seg.json()) as { type: string }).type,
    'https://nnsam-edge.dev/problems/no_inference_node',
  );
});

const SLAB_VOXELS = 128 * 256 * 256;
