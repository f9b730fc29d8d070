/**
 * @module
 * One `nnsam segment` run in its own process, for bench/engine.ts: prints JSON with the pipeline's
 * total and pure-model times, the process's peak RSS (VmHWM, peak-rss.ts) and where the label map
 * went. `--cli-root DIR` runs another checkout's CLI (built), measured the same way.
 * Usage: node dist/bench/engine-e2e.js IN MODEL_ID DEVICE [--cli-root DIR] [segment options]
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CommandIO } from '../engine/cli/command.js';
import { peakRssKB } from './peak-rss.js';

const [input, model, device, ...args] = process.argv.slice(2);
const other = args[0] === '--cli-root' ? resolve(args[1]) : undefined;
const rest = other ? args.slice(2) : args;
const { runCli } = (await import(
  other ? pathToFileURL(join(other, 'dist/engine/cli/main.js')).href : '../engine/cli/main.js'
)) as { runCli: (argv: string[], io: CommandIO) => Promise<number> };
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
  `${JSON.stringify({ out, cliWallMs: wallMs, ...s.timings_ms, maxRssKB: peakRssKB() })}\n`,
);
