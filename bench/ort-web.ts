/**
 * @module
 * `npm run bench:ort-web`: where onnxruntime-web's time goes against onnxruntime-node's on the
 * shipped U-Net, one thread each, batch 1 and the plans' batch.
 * - a per-operator profile from each runtime's own profiler (ort-node: `enableProfiling` +
 *   `profileFilePrefix`, a trace file; ort-web: `enableProfiling`, a trace its WASM module prints
 *   through `console.log`), both sessions run alternately in this process. The trace is taken in
 *   Node's V8 with the Worker's `.wasm` file: inside workerd timers do not advance during a
 *   computation (docs/platform.md), so a trace taken there reads zero for every operator;
 * - CPU time per model call of ort-node, ort-web in Node and ort-web inside workerd (the probe
 *   Worker of test/engine/ort-probe.ts; workerd's CPU time read from /proc).
 * CPU time, not wall time: on this shared machine wall time counts the time other processes hold
 * the cores, and a long operator is interrupted more often than a short one. ort-web's profiler
 * is given a CPU-time clock; each operator's figure is its fastest call over the measured runs.
 * Writes bench/results/ort-web.md.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAverages, median, processCpuMs, selfCpuMs, workerdPids } from './proc-cpu.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODEL_DIR = `${ROOT}models/brain-wm-2d/`;
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
// Calls before the measured ones: V8 tiers the WASM code up over the first few (docs/platform.md).
const WARMUP = 4;
const ROUNDS = 3;
// Profiled calls: a long operator needs many tries to get one call the scheduler left alone.
const PROFILE_RUNS = Number(process.env.BENCH_PROFILE_RUNS ?? 30);

// ort-web's WASM module binds console.log when it is instantiated: capture from here, before that.
const consoleLog = console.log.bind(console);
let captured: string[] | null = null;
console.log = (...args: unknown[]) => (captured ? captured.push(args.join(' ')) : consoleLog(...args));

const ortNode = await import('onnxruntime-node');
const ortWeb = await import('onnxruntime-web/wasm');
const { createOrtNodeCpu } = await import('../engine/runtime/ort-node.js');
const { createOrtWebForNode } = await import('../engine/runtime/ort-web-node.js');

interface TraceEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: {
    op_name?: string;
    input_type_shape?: Record<string, number[]>[];
    output_type_shape?: Record<string, number[]>[];
  };
}

interface OpCost {
  op: string;
  us: number;
  macs: number;
}

const manifest = JSON.parse(readFileSync(`${MODEL_DIR}manifest.json`, 'utf8')) as {
  plans: { patch_size: number[]; batch_size: number };
};
const patch = manifest.plans.patch_size;
const model = new Uint8Array(readFileSync(`${MODEL_DIR}model.onnx`));
const input = (batch: number) =>
  new Float32Array(batch * patch[0] * patch[1]).map((_, i) => Math.sin(i * 0.37));
// The options the engine's adapters use (engine/runtime/ort-node.ts, ort-web.ts), plus profiling.
const common = { graphOptimizationLevel: 'all', executionMode: 'sequential', enableProfiling: true } as const;

/** Multiply-accumulates of a Conv or ConvTranspose call, from the shapes the trace records. */
function convMacs(e: TraceEvent): number {
  const shape = (s: Record<string, number[]> | undefined) => (s ? Object.values(s)[0] : []);
  const [x, w] = (e.args?.input_type_shape ?? []).map(shape);
  const y = shape(e.args?.output_type_shape?.[0]);
  const op = e.args?.op_name ?? '';
  if (!w || w.length !== 4) return 0;
  const prod = (a: number[]) => a.reduce((p, v) => p * v, 1);
  // Conv weight [K, C/g, kh, kw] per output pixel; ConvTranspose weight [C, K/g, kh, kw] per input pixel.
  if (op === 'ConvTranspose') return prod(x) * w[1] * w[2] * w[3];
  if (op === 'Conv' || op === 'FusedConv') return prod(y) * w[1] * w[2] * w[3];
  return 0;
}

/** Each node's fastest call over the runs after the first `skip`, keyed by node. */
function fastestCalls(trace: TraceEvent[], skip: number): Map<string, OpCost> {
  const runs = trace.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const from = runs[skip].ts;
  const out = new Map<string, OpCost>();
  for (const e of trace) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
    const prev = out.get(e.name);
    if (!prev || e.dur < prev.us)
      out.set(e.name, { op: e.args?.op_name ?? '?', us: e.dur, macs: convMacs(e) });
  }
  return out;
}

/** The op types as the exported graph has them, grouped by the layer they implement. */
const GROUPS: [string, string[]][] = [
  ['Conv 3x3 and 1x1 (incl. FusedConv)', ['Conv', 'FusedConv']],
  ['ConvTranspose', ['ConvTranspose']],
  ['InstanceNorm: ReduceMean', ['ReduceMean']],
  ['InstanceNorm: Sub, Mul, Add, Div, Sqrt', ['Sub', 'Mul', 'Add', 'Div', 'Sqrt']],
  ['LeakyRelu', ['LeakyRelu']],
  ['Concat', ['Concat']],
  ['NCHWc layout reorders (node only)', ['ReorderInput', 'ReorderOutput']],
];

function byGroup(costs: Map<string, OpCost>): {
  ms: number[];
  calls: number[];
  macs: number[];
  other: number;
} {
  const ms = GROUPS.map(() => 0);
  const calls = GROUPS.map(() => 0);
  const macs = GROUPS.map(() => 0);
  let other = 0;
  for (const c of costs.values()) {
    const g = GROUPS.findIndex(([, ops]) => ops.includes(c.op));
    if (g < 0) other += c.us / 1000;
    else {
      ms[g] += c.us / 1000;
      calls[g]++;
      macs[g] += c.macs;
    }
  }
  return { ms, calls, macs, other };
}

async function profile(batch: number): Promise<{ md: string; nodeMs: number; webMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'nnsam-ort-profile-'));
  try {
    const node = await ortNode.InferenceSession.create(model, {
      ...common,
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionProviders: ['cpu'],
      profileFilePrefix: join(dir, 'node'),
    });
    const web = await ortWeb.InferenceSession.create(model, { ...common, executionProviders: ['wasm'] });
    const x = input(batch);
    const dims = [batch, 1, patch[0], patch[1]];
    // ort-web's profiler reads its clock from performance.now(): hand it this process's CPU time,
    // so that its operator times are CPU times. ort-node's native clock is wall time; its operators
    // are short enough (< 2 ms) for the fastest of the runs to be an undisturbed one.
    const wallNow = Object.getOwnPropertyDescriptor(performance, 'now');
    Object.defineProperty(performance, 'now', { value: selfCpuMs, configurable: true });
    try {
      for (let i = 0; i < WARMUP + PROFILE_RUNS; i++) {
        await node.run({ input: new ortNode.Tensor('float32', x, dims) });
        await web.run({ input: new ortWeb.Tensor('float32', x, dims) });
      }
      node.endProfiling();
      captured = [];
      web.endProfiling();
    } finally {
      if (wallNow) Object.defineProperty(performance, 'now', wallNow);
      else delete (performance as { now?: unknown }).now;
    }
    const printed = captured.join('\n');
    captured = null;
    await node.release();
    await web.release();
    const nodeTrace = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]), 'utf8')) as TraceEvent[];
    const webTrace = JSON.parse(
      printed.slice(printed.indexOf('['), printed.lastIndexOf(']') + 1),
    ) as TraceEvent[];
    const n = byGroup(fastestCalls(nodeTrace, WARMUP));
    const w = byGroup(fastestCalls(webTrace, WARMUP));
    const nodeTotal = n.ms.reduce((a, b) => a + b, n.other);
    const webTotal = w.ms.reduce((a, b) => a + b, w.other);
    const gmacs = (macs: number, ms: number) =>
      ms > 0 && macs > 0 ? ` (${(macs / ms / 1e6).toFixed(1)} GMAC/s)` : '';
    const rows = GROUPS.map(([label], g) => {
      const ratio = n.ms[g] > 0 ? (w.ms[g] / n.ms[g]).toFixed(2) : '-';
      return `| ${label} | ${w.calls[g] || n.calls[g]} | ${n.ms[g].toFixed(2)}${gmacs(n.macs[g], n.ms[g])} | ${w.ms[g].toFixed(2)}${gmacs(w.macs[g], w.ms[g])} | ${ratio} | ${((100 * w.ms[g]) / webTotal).toFixed(0)} % | ${((100 * (w.ms[g] - n.ms[g])) / (webTotal - nodeTotal)).toFixed(0)} % |`;
    });
    const md = `### Batch ${batch}

| op type | nodes | ort-node (ms) | ort-web (ms) | web / node | share of web | share of the gap |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}
| other | | ${n.other.toFixed(2)} | ${w.other.toFixed(2)} | | | |
| **sum of operators** | | **${nodeTotal.toFixed(2)}** | **${webTotal.toFixed(2)}** | **${(webTotal / nodeTotal).toFixed(2)}** | | |
`;
    return { md, nodeMs: nodeTotal, webMs: webTotal };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Per-round ratios of CPU ms per call: ort-node, ort-web in Node, ort-web in workerd, interleaved. */
async function cpuPerCall(batch: number): Promise<{ node: number; web: number; workerd: number }> {
  const x = input(batch);
  const dims = [batch, 1, patch[0], patch[1]];
  const node = await createOrtNodeCpu(model, { threads: 1 });
  const web = await createOrtWebForNode(model);
  const { startBundledWorker } = await import('../test/workerd/miniflare-bundle.js');
  const mf = startBundledWorker(
    `${ROOT}test/engine/ort-probe.wrangler.toml`,
    `${ROOT}dist/workerd-ort-bench`,
  );
  try {
    await mf.ready;
    const [pid] = workerdPids();
    const body = new Uint8Array(4 + model.length + x.byteLength);
    new DataView(body.buffer).setUint32(0, model.length, true);
    body.set(model, 4);
    body.set(new Uint8Array(x.buffer), 4 + model.length);
    // The probe makes a session per request: runs=N+1 against runs=1, in workerd's CPU time.
    const probe = async (runs: number): Promise<number> => {
      const c = processCpuMs(pid);
      const res = await mf.dispatchFetch(`http://probe/?dims=${dims.join(',')}&runs=${runs}`, {
        method: 'POST',
        body,
      });
      if (res.status !== 200) throw new Error(await res.text());
      await res.arrayBuffer();
      return processCpuMs(pid) - c;
    };
    const inProcess = async (rt: { run: (x: Float32Array, d: number[]) => Promise<unknown> }) => {
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const c = selfCpuMs();
        await rt.run(x, dims);
        times.push(selfCpuMs() - c);
      }
      return median(times);
    };
    for (let i = 0; i < WARMUP; i++) {
      await node.run(x, dims);
      await web.run(x, dims);
    }
    await probe(WARMUP);
    // Rounds of all three back to back, so that each round's ratios share the machine's state.
    const rounds: { node: number; web: number; workerd: number }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const n = await inProcess(node);
      const w = await inProcess(web);
      const one = await probe(1);
      const many = await probe(RUNS + 1);
      rounds.push({ node: n, web: w, workerd: (many - one) / RUNS });
    }
    return {
      node: median(rounds.map((r) => r.node)),
      web: median(rounds.map((r) => r.web)),
      workerd: median(rounds.map((r) => r.workerd)),
    };
  } finally {
    await mf.dispose();
    await node.dispose();
    await web.dispose();
  }
}

// ORT initialises once per process: through the engine's adapter, so that the sessions below run
// the same pre-compiled module as the Worker (engine/runtime/ort-web.ts).
await (await createOrtWebForNode(model)).dispose();
const loadBefore = loadAverages();
const sections: string[] = [];
const ratios: string[] = [];
for (const batch of [1, manifest.plans.batch_size]) {
  const p = await profile(batch);
  const t = await cpuPerCall(batch);
  // Wall-clock operator times that add up to more than the CPU time of a whole call were stretched
  // by the scheduler (a long operator is interrupted in every run on a loaded machine): say so.
  const stretched = [p.nodeMs / t.node, p.webMs / t.web];
  sections.push(
    p.md +
      (Math.max(...stretched) > 1.15
        ? `\n**Disturbed**: the operators add up to ${stretched.map((r) => r.toFixed(2)).join(' / ')}x (node / web) the CPU time of a call; the scheduler interrupted the long operators in every run. Rerun on a quieter machine.\n`
        : `\nThe operators add up to ${stretched.map((r) => r.toFixed(2)).join(' / ')}x (node / web) the CPU time of a call.\n`),
  );
  ratios.push(
    `| ${batch} | ${t.node.toFixed(1)} | ${t.web.toFixed(1)} | ${(t.web / t.node).toFixed(2)} | ${t.workerd.toFixed(1)} | ${(t.workerd / t.node).toFixed(2)} |`,
  );
  consoleLog(sections[sections.length - 1], ratios[ratios.length - 1]);
}
const loadAfter = loadAverages();

const md = `# onnxruntime-web against onnxruntime-node: where the time goes

\`npm run bench:ort-web\` on ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores, shared), Node ${process.version},
model \`brain-wm-2d\` (\`model.onnx\`, patch ${patch.join('x')}), one thread everywhere, both runtimes 1.30.
Load averages ${loadBefore} at the start and ${loadAfter} at the end: the machine was shared (a
training run on one core, other builds), hence CPU time below, not wall time.

## CPU time per model call (ms; ${ROUNDS} rounds of ${RUNS} calls each, interleaved; medians)

| batch | ort-node | ort-web in Node | web / node | ort-web in workerd | workerd / node (target <= 3) |
| --- | --- | --- | --- | --- | --- |
${ratios.join('\n')}

ort-web in workerd: the probe Worker (test/engine/ort-probe.ts) with the pre-compiled module as
the API Worker loads it; workerd's CPU time from /proc over runs=${RUNS + 1} minus runs=1, median of
${ROUNDS} rounds.

## Per-operator profile (ms per model call)

Each node's fastest call over ${PROFILE_RUNS} runs, summed by op type; ort-web's trace is taken in Node's
V8 on the Worker's \`.wasm\` with this process's CPU time as its clock, ort-node's with its own
(wall) clock. "share of the gap" is the op type's part of (web - node).
ort-node fuses each 3x3 convolution into MLAS's NCHWc blocked kernels (AVX-512 here), which is why
it has layout reorders and the web build has none; the WASM build has one CPU kernel set,
128-bit SIMD without FMA.

${sections.join('\n')}
`;
writeFileSync(`${ROOT}bench/results/ort-web.md`, md);
consoleLog('wrote bench/results/ort-web.md');
