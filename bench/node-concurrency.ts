/**
 * @module
 * The section of bench/results/api.md on a node's run concurrency: 2D one-shot throughput of
 * `POST /v1/run` on one `nnsam serve` node at `--concurrency 1` (one run at a time, the node before
 * concurrency was sized to the machine) and at the default `auto`, the same slice through both, in
 * alternating rounds so that load on a shared machine hits both alike. Each round drives one node
 * alone with twice as many clients as `auto` runs at once, so its run slots never wait for a client.
 */
import { availableParallelism, loadavg } from 'node:os';
import { decodeFrames } from '../engine/protocol/frames.js';
import type { NodeHealth } from '../engine/protocol/node-health.js';
import { autoConcurrency } from '../engine/server/concurrency.js';
import { startNode, type InferenceNode } from '../test/workerd/inference-nodes.js';
import { peakMb } from './proc-cpu.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 40);

const round = (x: number, d = 1): number => Number(x.toFixed(d));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const loads = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');

/** `total` one-shot runs of `slice` on `node`, `clients` at a time; requests per second. */
async function throughput(node: InferenceNode, slice: Uint8Array, total: number, clients: number) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next++ < total) {
        const res = await fetch(`${node.url}/v1/run?model=brain-wm-2d&format=png`, {
          method: 'POST',
          body: slice as Uint8Array<ArrayBuffer>,
        });
        if (res.status !== 200) throw new Error(`node answered ${res.status}: ${await res.text()}`);
        for await (const f of decodeFrames(res.body!)) {
          if (f.type === 'error') throw new Error(f.body.detail);
        }
      }
    }),
  );
  return total / ((performance.now() - t0) / 1000);
}

/** The markdown section, `## Node concurrency ...` to its end. */
export async function nodeConcurrencySection(slice: Uint8Array, sliceName: string): Promise<string> {
  const cores = availableParallelism();
  const auto = autoConcurrency({ cores, threads: 1, device: 'cpu' });
  const clients = 2 * auto;
  const loadBefore = loads();
  const nodes = {
    serial: await startNode(['--concurrency', '1', '--queue', '64']),
    auto: await startNode(['--queue', '64']),
  };
  const shown: Record<keyof typeof nodes, number> = { serial: 0, auto: 0 };
  for (const [name, node] of Object.entries(nodes) as [keyof typeof nodes, InferenceNode][]) {
    shown[name] = ((await (await fetch(`${node.url}/healthz`)).json()) as NodeHealth).concurrency;
    // Every run worker loads its sessions on its first run: warm them all up first.
    await throughput(node, slice, 2 * clients, clients);
  }
  const rows: string[] = [];
  const ratios: number[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    // Alternate which node goes first, so that a drift in load does not favour one.
    const order: (keyof typeof nodes)[] = r % 2 ? ['serial', 'auto'] : ['auto', 'serial'];
    const rps: Record<string, number> = {};
    for (const name of order) rps[name] = await throughput(nodes[name], slice, REQUESTS, clients);
    ratios.push(rps.auto / rps.serial);
    rows.push(
      `| ${r} | ${round(rps.serial, 2)} | ${round(rps.auto, 2)} | ${round(rps.auto / rps.serial, 2)} |`,
    );
  }
  const peaks = { serial: peakMb(nodes.serial.child.pid!), auto: peakMb(nodes.auto.child.pid!) };
  await Promise.all([nodes.serial.kill('SIGTERM'), nodes.auto.kill('SIGTERM')]);
  const loadAfter = loads();

  return `## Node concurrency: 2D one-shots on one node, \`--concurrency 1\` against \`auto\`

\`POST /v1/run\` straight to one \`nnsam serve\` node (${sliceName}, TTA on, PNG out), ${cores} cores as
\`os.availableParallelism()\` gives them, \`--threads 1\`: \`--concurrency 1\` (${shown.serial} run at once, as the node ran
before) and the default \`auto\` (${shown.auto} at once, one run worker thread per core). ${clients} clients per
node, ${REQUESTS} requests per node and round after ${2 * clients} warm-up requests, the two nodes in turn (never
both at once), which one goes first alternating by round.

**Measured on a shared machine** (other tenants' work on the host; earlier runs had a training run on
one core): load averages (1, 5, 15 min, as \`uptime\` shows them) ${loadBefore} before and ${loadAfter} after. Absolute requests/s
are noise here; the ratio of the two nodes in the same round is the figure. On a contended machine a
node with two busy threads also wins a larger share of the CPU from the scheduler than a node with one,
so this ratio is not the speed-up of an idle 2-core node (at most 2x there).

| round | \`--concurrency 1\` requests/s | \`auto\` (${shown.auto}) requests/s | auto / 1 |
| --- | --- | --- | --- |
${rows.join('\n')}

**Median auto / 1: ${round(median(ratios), 2)}x.** Peak memory (VmHWM) of the node: ${round(peaks.serial)} MB at
\`--concurrency 1\`, ${round(peaks.auto)} MB at \`auto\` (each run worker holds its own onnxruntime session and
WASM kernel memory).
`;
}
