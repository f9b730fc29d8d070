/**
 * @module
 * One `nnsam segment` run in its own process, for bench/engine.ts: prints JSON with the pipeline's
 * total and pure-model times, the process's peak RSS and where the label map went.
 * Usage: node dist/bench/engine-e2e.js IN MODEL_ID DEVICE [--no-tta]
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../engine/cli/main.js';

const [input, model, device, ...rest] = process.argv.slice(2);
const stats = join(tmpdir(), `nnsam-bench-${process.pid}.json`);
const out = join(tmpdir(), `nnsam-bench-${process.pid}.nii.gz`);
const t0 = performance.now();
let err = '';
const code = await runCli(
  ['segment', input, '-o', out, '--model', model, '--device', device, '--stats', stats, ...rest],
  {
    stdout: () => {},
    stderr: (t) => (err += t),
    isTTY: false,
  },
);
if (code !== 0) throw new Error(`segment failed: ${err}`);
const wallMs = performance.now() - t0;
const s = JSON.parse(readFileSync(stats, 'utf8')) as {
  timings_ms: { total: number; model: number; model_calls: number };
};
process.stdout.write(
  `${JSON.stringify({ out, cliWallMs: wallMs, ...s.timings_ms, maxRssKB: process.resourceUsage().maxRSS })}\n`,
);
