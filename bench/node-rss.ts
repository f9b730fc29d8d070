/**
 * @module
 * Peak resident memory (VmHWM) of one `nnsam serve` node running one volume, for bench/engine.ts:
 * the node at `--concurrency 1` (one run worker; each further concurrent run adds its own session,
 * bench/results/api.md), the volume posted to `POST /v1/run` as a NIfTI answer with TTA, its answer
 * read to the end. The node is a process of its own, so its VmHWM is the node's and nothing else's.
 * Usage: node dist/bench/node-rss.js VOLUME [MODEL]  (prints JSON)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeFrames } from '../engine/protocol/frames.js';
import { startNode } from '../test/workerd/inference-nodes.js';
import { peakMb } from './proc-cpu.js';

export interface NodeRss {
  /** VmHWM after start-up, before any run (MB). */
  idleMB: number;
  /** VmHWM after the run (MB). */
  peakMB: number;
  /** Bytes of the streamed answer. */
  answerBytes: number;
}

/** One run of `volume` on a fresh node; throws if the node answers with anything but a result. */
export async function nodePeakRss(volume: string, model = 'brain-wm-2d'): Promise<NodeRss> {
  const node = await startNode(['--concurrency', '1']);
  try {
    const pid = node.child.pid!;
    const idleMB = peakMb(pid);
    const res = await fetch(`${node.url}/v1/run?model=${model}&format=nifti&tta=true`, {
      method: 'POST',
      body: new Uint8Array(readFileSync(volume)),
    });
    if (res.status !== 200) throw new Error(`node answered ${res.status}: ${await res.text()}`);
    let answerBytes = 0;
    let ended = false;
    for await (const f of decodeFrames(res.body!)) {
      if (f.type === 'error') throw new Error(f.body.detail);
      if (f.type === 'data') answerBytes += f.body.length;
      if (f.type === 'end') ended = true;
    }
    if (!ended) throw new Error('the node closed the answer without an end frame');
    return { idleMB, peakMB: peakMb(pid), answerBytes };
  } finally {
    await node.kill();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [volume, model] = process.argv.slice(2);
  process.stdout.write(`${JSON.stringify(await nodePeakRss(volume, model))}\n`);
}
