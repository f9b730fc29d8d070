/**
 * @module
 * `npm run bench:edge`: a one-shot 2D slice through the edge API (the Worker in workerd via
 * Miniflare, as `wrangler dev` runs it), placed on an inference node against placed at the edge
 * (the edge runtime inside the Worker: the own U-Net runtime for brain-wm-2d, docs/unet-wasm.md),
 * cold and warm.
 * - node placement: `POST /v1/segment` with `EDGE_MAX_VOXELS=0`, one `nnsam serve` node;
 * - edge placement, cold: the first edge request of a new isolate (MODELS fetch, SHA-256, the
 *   runtime's start-up and load, and the model calls on code V8 has not optimised yet), then the
 *   next two;
 * - warm: the isolate's cached runtime (worker/edge/edge-runtime.ts), requests alternating between
 *   the two placements, each round's CPU ratio one sample (the host's load drifts);
 * - where the cold time goes, from the probe Worker (test/engine/ort-probe.ts), which loads the
 *   runtime per request: start-up + load + one call, then load + one call; and a warm model call of
 *   the edge runtime on the edge file against one of onnxruntime-web on the web graph of the same
 *   weights (what the edge ran before, training/web_graph.py), in the same probe, alternating; and
 *   the own runtime's warm call with its Winograd convolutions against without them.
 * Wall time and CPU time (workerd's and the node's, from /proc): on this shared machine wall time
 * counts the time other processes hold the cores.
 * Writes bench/results/edge-oneshot.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { cliRegistry } from '../engine/cli/models-root.js';
import { readImage } from '../engine/io/index.js';
import { segment } from '../engine/pipeline/segment.js';
import { createOrtNodeCpu } from '../engine/runtime/ort-node.js';
import { sharedKernels } from '../wasm/src/node-loader.js';
import { startApi, type ApiWorld } from '../test/workerd/api-world.js';
import { startNode } from '../test/workerd/inference-nodes.js';
import { startBundledWorker } from '../test/workerd/miniflare-bundle.js';
import { currentEdgeFile } from '../test/workerd/edge-file.js';
import {
  edgeRuntimeKind,
  webGraphOf,
  type EdgeRuntimeKind,
  type ModelManifest,
} from '../engine/models/manifest.js';
import { PRICES, SLICE } from '../test/workerd/job-fixtures.js';
import { loadAverages, median, processCpuMs, workerdPids } from './proc-cpu.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EDGE = currentEdgeFile('brain-wm-2d');
const EDGE_FILE = EDGE.file;
const MANIFEST = JSON.parse(readFileSync(`${ROOT}models/brain-wm-2d/manifest.json`, 'utf8')) as ModelManifest;
const EDGE_RUNTIME = edgeRuntimeKind(MANIFEST.edge!);
/** onnxruntime-web's graph of the same weights, what the edge ran before the own runtime. */
const WEB_GRAPH = webGraphOf(MANIFEST, 'model.fp16.onnx');
const REQUESTS = Number(process.env.BENCH_RUNS ?? 10);
if (!Number.isInteger(REQUESTS) || REQUESTS < 1) throw new Error('BENCH_RUNS must be a whole number >= 1');
const WARMUP = 3;

interface Sample {
  wall: number;
  cpu: number;
  /** CPU of each of the request's processes, in the order given (workerd first). */
  parts: number[];
}

/** Starts an API world and returns it with its workerd process. */
async function world(name: string, vars: Record<string, string>): Promise<{ w: ApiWorld; pid: number }> {
  const before = new Set(workerdPids());
  const w = await startApi(name, {
    vars: { DEFAULT_PRICES: JSON.stringify(PRICES), MAX_CONCURRENT_JOBS: '64', ...vars },
  });
  const pid = workerdPids().find((p) => !before.has(p));
  if (pid === undefined) throw new Error('workerd process not found');
  return { w, pid };
}

/** One `POST /v1/segment` of the slice; `pids`' CPU time over the request. */
async function oneShot(w: ApiWorld, key: string, pids: number[], placement: string): Promise<Sample> {
  const cpu = () => pids.map((p) => processCpuMs(p));
  const c = cpu();
  const t = performance.now();
  const res = await w.fetch('/v1/segment?model=brain-wm-2d', {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      accept: 'image/png',
      'content-type': 'application/octet-stream',
    },
    body: SLICE as unknown as BodyInit,
  });
  await res.arrayBuffer();
  if (res.status !== 200 || res.headers.get('x-placement') !== placement) {
    throw new Error(`segment: ${res.status}, placed ${res.headers.get('x-placement')}, wanted ${placement}`);
  }
  const parts = cpu().map((v, i) => v - c[i]);
  return { wall: performance.now() - t, cpu: parts.reduce((a, b) => a + b, 0), parts };
}

/** Medians of each figure over `s`. */
function summary(s: Sample[]): Sample {
  return {
    wall: median(s.map((x) => x.wall)),
    cpu: median(s.map((x) => x.cpu)),
    parts: s[0].parts.map((_, i) => median(s.map((x) => x.parts[i]))),
  };
}

/** CPU ms of one probe request running `model` `runs` times on `runtime` (load included), in the probe's workerd. */
type ProbeCpu = (
  model: Uint8Array,
  runs: number,
  runtime: EdgeRuntimeKind,
  query?: string,
) => Promise<number>;

/** Runs `f` against a fresh probe Worker (test/engine/ort-probe.ts), whose workerd CPU time it reads. */
async function withProbe<T>(f: (cpuOf: ProbeCpu) => Promise<T>): Promise<T> {
  const before = new Set(workerdPids());
  const mf = startBundledWorker(
    `${ROOT}test/engine/ort-probe.wrangler.toml`,
    `${ROOT}dist/workerd-edge-bench-probe`,
  );
  try {
    await mf.ready;
    const pid = workerdPids().find((p) => !before.has(p))!;
    const x = new Float32Array(128 * 128).map((_, i) => Math.sin(i * 0.37));
    const bodies = new Map<Uint8Array, Uint8Array>();
    const bodyOf = (model: Uint8Array): Uint8Array => {
      let body = bodies.get(model);
      if (!body) {
        body = new Uint8Array(4 + model.length + x.byteLength);
        new DataView(body.buffer).setUint32(0, model.length, true);
        body.set(model, 4);
        body.set(new Uint8Array(x.buffer), 4 + model.length);
        bodies.set(model, body);
      }
      return body;
    };
    return await f(async (model, runs, runtime, query = '') => {
      const c = processCpuMs(pid);
      const res = await mf.dispatchFetch(
        `http://probe/?dims=1,1,128,128&runs=${runs}&runtime=${runtime}${query}`,
        {
          method: 'POST',
          body: bodyOf(model),
        },
      );
      if (res.status !== 200) throw new Error(await res.text());
      await res.arrayBuffer();
      return processCpuMs(pid) - c;
    });
  } finally {
    await mf.dispose();
  }
}

/** CPU ms of probe requests in a fresh workerd: [start-up + load + 1 call, load + 1 call, ...]. */
function probeColdSteps(model: Uint8Array, runtime: EdgeRuntimeKind): Promise<number[]> {
  return withProbe(async (cpuOf) => {
    const steps: number[] = [];
    for (const runs of [1, 1, 1, 24, 1, 25]) steps.push(await cpuOf(model, runs, runtime));
    return steps;
  });
}

/** A model, the runtime the probe runs it on, and any further probe query (`&winograd=0`). */
type ProbeRun = [Uint8Array, EdgeRuntimeKind, string?];

/**
 * Warm CPU ms per model call of `a` and of `b` in one probe workerd, alternating, medians of 5
 * rounds of (25 calls - 1 call) / 24 each, after one such round of each; and the median of the
 * rounds' b/a ratios.
 */
function warmCallPair(a: ProbeRun, b: ProbeRun): Promise<[number, number, number]> {
  return withProbe(async (cpuOf) => {
    const perCall: [number[], number[]] = [[], []];
    for (let round = 0; round < 6; round++) {
      for (const [i, [model, runtime, query]] of [a, b].entries()) {
        const call =
          ((await cpuOf(model, 25, runtime, query)) - (await cpuOf(model, 1, runtime, query))) / 24;
        if (round > 0) perCall[i].push(call);
      }
    }
    return [median(perCall[0]), median(perCall[1]), median(perCall[1].map((v, r) => v / perCall[0][r]))];
  });
}

/** Pixels whose label differs between TTA on and off, the edge's file on onnxruntime-node. */
async function ttaOffDiffers(model: Uint8Array): Promise<{ differ: number; pixels: number }> {
  const registry = cliRegistry(undefined);
  const rt = await createOrtNodeCpu(model, { threads: 1 });
  try {
    const manifest = (await registry.load('brain-wm-2d')).manifest;
    const core = await sharedKernels();
    const on = (await segment(core, readImage(SLICE), manifest, [rt], { tta: true })).labels;
    const off = (await segment(core, readImage(SLICE), manifest, [rt], { tta: false })).labels;
    return { differ: on.reduce((n, v, i) => n + (v !== off[i] ? 1 : 0), 0), pixels: on.length };
  } finally {
    await rt.dispose();
    await registry.dispose();
  }
}

const loadBefore = loadAverages();
const node = await startNode(['--queue', '64']);
const nodePid = node.child.pid!;
const viaNode = await world('bench-edge-node', { INFERENCE_NODES: node.url, EDGE_MAX_VOXELS: '0' });
const nodeKey = await viaNode.w.key('bench');
const viaNodeOnce = () => oneShot(viaNode.w, nodeKey, [viaNode.pid, nodePid], 'node');
for (let i = 0; i < WARMUP; i++) await viaNodeOnce();

// The edge world's node is live too (the edge falls back to it): the edge row must say `edge`.
const viaEdge = await world('bench-edge-edge', { INFERENCE_NODES: node.url });
const edgeModel = EDGE.bytes;
// Under the current release's key (docs/model-versions.md): a bare `<id>/<file>` key, as here before
// versions, is not read, and the edge answered from the node.
await (await viaEdge.w.mf.getR2Bucket('MODELS', 'api')).put(EDGE.key, edgeModel);
const edgeKey = await viaEdge.w.key('bench');
const edge = () => oneShot(viaEdge.w, edgeKey, [viaEdge.pid], 'edge');
const cold = await edge();
const next = [await edge(), await edge()];
// Warm requests alternate between the placements, so that the host's other tenants, whose load
// drifts over minutes, weigh on both alike; each round's edge/node CPU ratio is one sample.
const nodeRuns: Sample[] = [];
const edgeRuns: Sample[] = [];
for (let i = 0; i < REQUESTS; i++) {
  nodeRuns.push(await viaNodeOnce());
  edgeRuns.push(await edge());
}
const nodeWarm = summary(nodeRuns);
const edgeWarm = summary(edgeRuns);
const pairedRatio = median(edgeRuns.map((e, i) => e.cpu / nodeRuns[i].cpu));
await viaNode.w.dispose();
await viaEdge.w.dispose();
await node.kill('SIGTERM');
const probe = await probeColdSteps(edgeModel, EDGE_RUNTIME);
const graphs = await warmCallPair(
  [edgeModel, EDGE_RUNTIME],
  [new Uint8Array(readFileSync(`${ROOT}models/brain-wm-2d/${WEB_GRAPH}`)), 'onnxruntime-web'],
);
// The own runtime with and without its Winograd convolutions (docs/unet-wasm.md, "Winograd").
const winograd =
  EDGE_RUNTIME === 'unet-wasm'
    ? await warmCallPair([edgeModel, EDGE_RUNTIME, '&winograd=0'], [edgeModel, EDGE_RUNTIME])
    : null;
const tta = await ttaOffDiffers(edgeModel);
const loadAfter = loadAverages();

const size = readImage(SLICE).shape.slice(0, 2).join('x');
const f = (v: number) => v.toFixed(0);
const r = (v: number) => v.toFixed(2);
const row = (label: string, s: Sample, n: number | string) =>
  `| ${label} | ${n} | ${f(s.wall)} | ${f(s.cpu)} | ${r(s.wall / nodeWarm.wall)} | ${r(s.cpu / nodeWarm.cpu)} |`;
const perCall = (probe[5] - probe[4]) / 24;
const md = `# Edge one-shot: a 2D slice placed at the edge against placed on a node

\`npm run bench:edge\` on ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores, shared), Node ${process.version}.
Load averages ${loadBefore} at the start and ${loadAfter} at the end: the machine is shared (other
tenants on the host), so read the CPU columns; wall time counts the time other
processes held the cores.

\`POST /v1/segment?model=brain-wm-2d\`, BrainT1Slice.png (${size}), TTA on, PNG out. The Worker runs in
workerd through Miniflare, one \`nnsam serve\` node (onnxruntime-node CPU, 1 thread, \`model.onnx\`);
the edge runs ${EDGE_RUNTIME} (WASM, 1 thread; docs/unet-wasm.md) on \`${EDGE_FILE}\` from the MODELS bucket. Both make
6 tiles x 4 mirrorings = 24 model evaluations (both run one tile a call: the node's
onnxruntime-node by CPU_MAX_BATCH, engine/runtime/runtime.ts).
CPU is workerd's (and the node's, for the node placement) over the request. The warm requests
alternate, node then edge, ${REQUESTS} rounds; the cold ones come before them.

| path | requests | wall (ms) | CPU (ms) | wall / node | CPU / node (target, warm: <= 1.5) |
| --- | --- | --- | --- | --- | --- |
${row('node placement, warm (median)', nodeWarm, REQUESTS)}
${row('edge, cold: first request of a new isolate', cold, 1)}
${row('edge, second request', next[0], 1)}
${row('edge, third request', next[1], 1)}
${row('edge, warm (median)', edgeWarm, REQUESTS)}

The warm row's ratios are of the two medians. The figure to read is paired: warm edge CPU over the
same round's node CPU, median of the ${REQUESTS} rounds: **${r(pairedRatio)}** (issue 14's target: <= 1.5).

## Where the edge's time goes (workerd CPU, ms)

From the probe Worker, which loads \`${EDGE_FILE}\` on ${EDGE_RUNTIME} on every request:

| step | CPU (ms) |
| --- | --- |
| first request of a new isolate: start-up, load, one model call | ${f(probe[0])} |
| second request: load, one model call | ${f(probe[1])} |
| third request: load, one model call | ${f(probe[2])} |
| one model call, warm (24 calls minus 1, per call) | ${f(perCall)} |
| 24 warm model calls, the compute of a warm edge one-shot | ${f(24 * perCall)} |

## The edge runtime against onnxruntime-web (workerd CPU per warm model call, ms)

| ${EDGE_RUNTIME} on \`${EDGE_FILE}\` (the edge) | onnxruntime-web on \`${WEB_GRAPH}\` (same weights, its web graph) | ratio |
| --- | --- | --- |
| ${graphs[0].toFixed(1)} | ${graphs[1].toFixed(1)} | ${r(graphs[0] / graphs[1])} |

Medians of 5 alternating rounds of 24 calls each, in one probe isolate: the figures to compare the
two runtimes by (the warm call in the table above is one request of 25 calls after the cold steps).
The web graph is onnxruntime-web's best graph of these weights (training/web_graph.py, docs/platform.md).
${
  winograd
    ? `
## The edge runtime with and without Winograd (workerd CPU per warm model call, ms)

| direct 3x3 convolutions only | with Winograd F(2x2, 3x3) (shipped) | ratio (median of the rounds' ratios) |
| --- | --- | --- |
| ${winograd[0].toFixed(1)} | ${winograd[1].toFixed(1)} | ${r(winograd[2])} |

The same probe and rounds as above; \`&winograd=0\` builds the runtime with every stride-1
convolution on the direct kernel (docs/unet-wasm.md, "Winograd").
`
    : ''
}
The warm edge one-shot is its 24 model calls: the isolate keeps the runtime (a second request loads
nothing; test/workerd/api-edge.test.ts checks that the model is loaded once), and the rest of the
request (decode, kernels, encode, ledger) is what the node placement also pays. The cold request
adds the MODELS fetch and SHA-256, the runtime's load and the first calls on code that V8 has not
yet optimised (docs/platform.md, docs/unet-wasm.md).

## The node placement, part by part (CPU ms, warm medians)

Each part is its own median, so the parts need not add up to the row above.

| part | CPU (ms) |
| --- | --- |
| workerd: routing, ledger, forwarding, reading the node's frames | ${f(nodeWarm.parts[0])} |
| the node: decode, pipeline, 24 onnxruntime-node calls, encode | ${f(nodeWarm.parts[1])} |

So nearly all of a one-shot's CPU is the pipeline and its 24 model calls, wherever it runs: at the
edge, 24 calls of the edge runtime (docs/unet-wasm.md, "How far from the ceiling", for how close they
run to the machine's multiply-add ceiling). Without TTA the edge would make 6 calls (~${f(6 * perCall)} ms CPU), but its labels would differ from the
TTA answer the nodes give on ${tta.differ} of ${tta.pixels} pixels (${((100 * tta.differ) / tta.pixels).toFixed(2)} %; the edge file on
onnxruntime-node, TTA on against off), where test/workerd/api-edge.test.ts allows 0.1 % between
edge and node; the edge keeps TTA.
`;
writeFileSync(`${ROOT}bench/results/edge-oneshot.md`, md);
process.stdout.write(md);
