/**
 * @module
 * One onnxruntime-node CPU session of brain-wm-2d in its own process, for bench/engine.ts: creates
 * it with the given tiles per call and session settings, runs five batches of 8 real-sized tiles
 * and prints the process's peak RSS as JSON (what the session and its arena hold, with Node's own).
 * Usage: node dist/bench/ort-session-rss.js MAX_BATCH '<session options JSON>'
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createOrtNodeCpu } from '../engine/runtime/ort-node.js';
import { peakRssKB } from './peak-rss.js';

const MODEL = fileURLToPath(new URL('../../models/brain-wm-2d/model.onnx', import.meta.url));
const [maxBatch, overrides] = process.argv.slice(2);
const rt = await createOrtNodeCpu(
  new Uint8Array(readFileSync(MODEL)),
  { threads: 1, maxBatch: Number(maxBatch) },
  JSON.parse(overrides ?? '{}'),
);
const x = new Float32Array(8 * 128 * 128).map((_, i) => Math.sin(i * 0.37));
for (let i = 0; i < 5; i++) await rt.run(x, [8, 1, 128, 128]);
await rt.dispose();
process.stdout.write(`${JSON.stringify({ maxRssKB: peakRssKB() })}\n`);
