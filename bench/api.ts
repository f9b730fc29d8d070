/**
 * @module
 * `npm run bench:api`: a load generator on loopback against the edge API (the Worker in workerd via
 * Miniflare, as `wrangler dev` runs it) and one `nnsam serve` inference node.
 * - `POST /v1/segment` on a 2D slice at several client concurrencies: requests/s, p50, p99, against
 *   the same slice through the engine in this process and straight to the node (`POST /v1/run`);
 * - a 3D chunked upload of fsB (256^3) plus a job, against the engine on the same volume;
 * - peak memory (VmHWM) of the node and of workerd;
 * - a node's 2D one-shot throughput at `--concurrency 1` against `auto` (node-concurrency.ts).
 * Writes bench/results/api.md. `BENCH_API_ONLY=concurrency` runs only the last and replaces that
 * section of the committed file, leaving the others as they were measured.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { cliRegistry } from '../engine/cli/models-root.js';
import { readImage, writeNifti } from '../engine/io/index.js';
import { checkManifest, edgeRuntimeKind } from '../engine/models/manifest.js';
import { segment } from '../engine/pipeline/segment.js';
import { decodeFrames } from '../engine/protocol/frames.js';
import type { NodeHealth } from '../engine/protocol/node-health.js';
import { sharedKernels } from '../wasm/src/node-loader.js';
import { peakMb, workerdPids } from './proc-cpu.js';
import { uploadClient, uploadWhole } from '../test/workerd/api-checks.js';
import { startApi } from '../test/workerd/api-world.js';
import { currentEdgeFile } from '../test/workerd/edge-file.js';
import { startNode } from '../test/workerd/inference-nodes.js';
import { jobClient, type Job } from '../test/workerd/job-client.js';
import { PRICES } from '../test/workerd/job-fixtures.js';
import { nodeConcurrencySection } from './node-concurrency.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EDGE = currentEdgeFile('brain-wm-2d');
const EDGE_RUNTIME = edgeRuntimeKind(
  checkManifest(JSON.parse(readFileSync(`${ROOT}models/brain-wm-2d/manifest.json`, 'utf8')), 'brain-wm-2d')
    .edge!,
);
const SLICE = new Uint8Array(readFileSync(`${ROOT}../shared/data/fixtures/mr-aniso/BrainT1Slice.png`));
const VOLUME = new Uint8Array(readFileSync(`${ROOT}../shared/data/brain-wm/imagesTr/fsB_0000.nii.gz`));
const RESULTS = `${ROOT}bench/results/api.md`;
const SLICE_NAME = `BrainT1Slice.png, ${readImage(SLICE).shape.slice(0, 2).join('x')}`;
const CONCURRENCY_HEADING = '## Node concurrency';
const REQUESTS = 120;
const CONCURRENCIES = [1, 4, 16];
// An edge run costs seconds of one isolate's CPU: fewer requests keep the bench short.
const EDGE_REQUESTS = 20;
const EDGE_CONCURRENCIES = [1, 4];

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const round = (x: number, d = 1) => Number(x.toFixed(d));

/** Runs `total` calls of `call`, `concurrency` at a time; latencies in ms and wall seconds. */
async function load(call: () => Promise<void>, total: number, concurrency: number) {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) {
        const t = performance.now();
        await call();
        latencies.push(performance.now() - t);
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { rps: total / wall, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
}

/** Replaces the node-concurrency section of the committed results (to the next section or the end). */
function spliceSection(md: string, section: string): string {
  const at = md.indexOf(CONCURRENCY_HEADING);
  if (at < 0) return `${md.trimEnd()}\n\n${section}`;
  const next = md.indexOf('\n## ', at + CONCURRENCY_HEADING.length);
  return `${md.slice(0, at)}${section}${next < 0 ? '' : md.slice(next)}`;
}

async function main(): Promise<void> {
  if (process.env.BENCH_API_ONLY === 'concurrency') {
    const section = await nodeConcurrencySection(SLICE, SLICE_NAME);
    const md = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '# Edge API benchmark\n';
    writeFileSync(RESULTS, spliceSection(md, section));
    process.stdout.write(section);
    return;
  }
  const registry = cliRegistry(undefined);
  const model = await registry.load('brain-wm-2d');
  const folds = await registry.runtimes('brain-wm-2d', 'cpu', { threads: 1 });
  const core = await sharedKernels();
  const engineCall = async (bytes: Uint8Array, tta: boolean) => {
    const image = readImage(bytes);
    const r = await segment(core, image, model.manifest, folds, { tta });
    writeNifti(image, r.labels, { gzip: true, datatype: 'uint8' });
  };

  const node = await startNode(['--queue', '64']);
  const nodeRuns = ((await (await fetch(`${node.url}/healthz`)).json()) as NodeHealth).concurrency;
  const w = await startApi('bench-api', {
    vars: {
      INFERENCE_NODES: node.url,
      DEFAULT_PRICES: JSON.stringify(PRICES),
      MAX_CONCURRENT_JOBS: '64',
      MAX_BODY_BYTES: String(32 * 2 ** 20),
      // This world measures the node path; the edge world below the in-Worker one.
      EDGE_MAX_VOXELS: '0',
    },
  });
  const key = await w.key('bench');
  const auth = { authorization: `Bearer ${key}` };

  // 2D one-shot: engine in-process, node direct, through the API.
  const viaEngine = () => engineCall(SLICE, true);
  const viaNode = async () => {
    const res = await fetch(`${node.url}/v1/run?model=brain-wm-2d&format=png`, {
      method: 'POST',
      body: SLICE,
    });
    for await (const f of decodeFrames(res.body!)) if (f.type === 'error') throw new Error(f.body.detail);
  };
  const viaApi = async () => {
    const res = await w.fetch('/v1/segment?model=brain-wm-2d', {
      method: 'POST',
      headers: { ...auth, accept: 'image/png', 'content-type': 'application/octet-stream' },
      body: SLICE as unknown as BodyInit,
    });
    if (res.status !== 200) throw new Error(`segment: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };
  for (const f of [viaEngine, viaNode, viaApi]) for (let i = 0; i < 5; i++) await f();
  const rows2d: string[] = [];
  const engine1 = await load(viaEngine, REQUESTS, 1);
  rows2d.push(
    `| engine in-process | 1 | ${round(engine1.rps)} | ${round(engine1.p50)} | ${round(engine1.p99)} | 1.00 |`,
  );
  for (const c of CONCURRENCIES) {
    const n = await load(viaNode, REQUESTS, c);
    rows2d.push(
      `| node \`POST /v1/run\` | ${c} | ${round(n.rps)} | ${round(n.p50)} | ${round(n.p99)} | ${round(n.p50 / engine1.p50, 2)} |`,
    );
    const a = await load(viaApi, REQUESTS, c);
    rows2d.push(
      `| API \`POST /v1/segment\` | ${c} | ${round(a.rps)} | ${round(a.p50)} | ${round(a.p99)} | ${round(a.p50 / engine1.p50, 2)} |`,
    );
  }

  // The same one-shot request placed at the edge (the edge runtime inside workerd).
  const edgeWorld = await startApi('bench-api-edge', {
    vars: { INFERENCE_NODES: node.url, DEFAULT_PRICES: JSON.stringify(PRICES), MAX_CONCURRENT_JOBS: '64' },
  });
  // Under the current release's key (docs/model-versions.md); the bare `<id>/<file>` key used here
  // before versions is never read, and every "edge" request ran on the node.
  await (await edgeWorld.mf.getR2Bucket('MODELS', 'api')).put(EDGE.key, EDGE.bytes);
  const edgeAuth = { authorization: `Bearer ${await edgeWorld.key('bench')}` };
  // An isolate makes one edge run at a time (worker/edge/edge-segment.ts): with more clients the
  // others are placed on the node, so the rows say how many ran at the edge.
  let atEdge = 0;
  const viaEdge = async () => {
    const res = await edgeWorld.fetch('/v1/segment?model=brain-wm-2d', {
      method: 'POST',
      headers: { ...edgeAuth, accept: 'image/png', 'content-type': 'application/octet-stream' },
      body: SLICE as unknown as BodyInit,
    });
    const placement = res.headers.get('x-placement');
    if (res.status !== 200 || (placement !== 'edge' && placement !== 'node')) {
      throw new Error(`edge segment: ${res.status} ${placement} ${await res.text()}`);
    }
    if (placement === 'edge') atEdge++;
    await res.arrayBuffer();
  };
  for (let i = 0; i < 2; i++) await viaEdge();
  if (atEdge !== 2)
    throw new Error('the edge world placed a lone one-shot on the node: no edge file in MODELS?');
  for (const c of EDGE_CONCURRENCIES) {
    atEdge = 0;
    const e = await load(viaEdge, EDGE_REQUESTS, c);
    rows2d.push(
      `| API \`POST /v1/segment\`, edge placement (${atEdge} of ${EDGE_REQUESTS} ran at the edge) | ${c} | ${round(e.rps)} | ${round(e.p50)} | ${round(e.p99)} | ${round(e.p50 / engine1.p50, 2)} |`,
    );
  }
  const edgeWorkerdPeak = workerdPids().map(peakMb);
  await edgeWorld.dispose();

  // 3D: chunked upload + job vs the engine on the same volume (TTA on, the default).
  const t3 = performance.now();
  await engineCall(VOLUME, true);
  const engine3d = (performance.now() - t3) / 1000;
  const uploads = uploadClient(w, key);
  const jobs = jobClient(w, key);
  const tu = performance.now();
  const uploadId = await uploadWhole(uploads, VOLUME, 2 ** 20);
  const uploadS = (performance.now() - tu) / 1000;
  const tj = performance.now();
  const created = (await (await jobs.create({ upload_id: uploadId, model: 'brain-wm-2d' })).json()) as Job;
  const final = await jobs.waitFinal(created.id, 600_000, 100);
  const result = new Uint8Array(await (await jobs.result(created.id)).arrayBuffer());
  const jobS = (performance.now() - tj) / 1000;
  if (final.status !== 'succeeded' || result.byteLength !== final.result?.bytes)
    throw new Error(JSON.stringify(final));

  const nodePeak = peakMb(node.child.pid!);
  const workerdPeak = workerdPids().map(peakMb);
  await w.dispose();
  await node.kill('SIGTERM');
  await registry.dispose();
  const enginePeak = peakMb(process.pid);
  const concurrencySection = await nodeConcurrencySection(SLICE, SLICE_NAME);

  const md = `# Edge API benchmark

\`npm run bench:api\` on ${cpus()[0].model} (${cpus().length} cores, shared), Node ${process.version}.
The Worker runs in workerd through Miniflare (as under \`wrangler dev\`), one \`nnsam serve\` node
(onnxruntime-node CPU, 1 thread, \`--concurrency\` auto: ${nodeRuns} runs at once), all on loopback; model \`brain-wm-2d\`.

## One-shot \`POST /v1/segment\` on a 2D slice (BrainT1Slice.png, ${readImage(SLICE).shape.slice(0, 2).join('x')}, TTA on, PNG out)

${REQUESTS} requests per row after 5 warm-ups (${EDGE_REQUESTS} after 2 for the edge rows). The ratio is
p50 over the engine's p50 in this process. Node placement rows run with \`EDGE_MAX_VOXELS=0\`; edge rows
run the release's edge runtime inside workerd (${EDGE_RUNTIME}, docs/unet-wasm.md) on \`${EDGE.file}\` from
the MODELS bucket, one run at a time per isolate: with several clients the rest are placed on the node.

| path | clients | requests/s | p50 (ms) | p99 (ms) | p50 / engine |
| --- | --- | --- | --- | --- | --- |
${rows2d.join('\n')}

With more clients than the node runs at once, latency is queueing: requests/s is the number to read.

${concurrencySection}
## 3D: chunked upload of fsB (256^3, ${(VOLUME.byteLength / 2 ** 20).toFixed(1)} MiB .nii.gz) and a job (TTA on)

| step | seconds |
| --- | --- |
| engine in this process (read, segment, write .nii.gz) | ${round(engine3d, 2)} |
| upload, 1 MiB chunks, each SHA-256-checked | ${round(uploadS, 2)} |
| job: create, run on the node, poll until done, download the mask | ${round(jobS, 2)} |
| **job / engine (target <= 1.15)** | **${round(jobS / engine3d, 3)}** |

The job's ${final.attempts} run(s) streamed the upload from R2 to the node and the mask back in
frames into R2 (${final.result!.bytes} bytes).

## Peak memory (VmHWM)

| process | MB |
| --- | --- |
| inference node (\`nnsam serve\`) | ${round(nodePeak)} |
| workerd (the Worker and its Durable Objects, all isolates; node placement) | ${workerdPeak.map((m) => round(m)).join(', ') || 'not found'} |
| workerd, both worlds while the edge world ran ${EDGE_RUNTIME} | ${edgeWorkerdPeak.map((m) => round(m)).join(', ') || 'not found'} |
| this bench process (engine baseline in-process, Miniflare) | ${round(enginePeak)} |
`;
  writeFileSync(RESULTS, md);
  process.stdout.write(md);
}

await main();
