/**
 * @module
 * `nnsam serve`: runs this machine as an inference node for the edge Worker until SIGINT/SIGTERM.
 */
import { availableParallelism } from 'node:os';
import { DEFAULT_READ_LIMITS } from '../../io/index.js';
import type { Device } from '../../runtime/runtime.js';
import { resolveConcurrency, type ConcurrencySetting } from '../../server/concurrency.js';
import { DEFAULT_MAX_RUN_SECONDS } from '../../server/node-app.js';
import { startNode } from '../../server/serve.js';
import { parseChoice, UsageError, type Command } from '../command.js';
import { DEFAULT_MODELS_DIR } from '../models-root.js';
import { parseWorkLimits, WORK_LIMIT_HELP, WORK_LIMIT_OPTIONS } from '../work-limits.js';

function parseInteger(
  text: string | boolean | undefined,
  option: string,
  min: number,
  fallback: number,
): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (typeof text !== 'string' || !Number.isInteger(n) || n < min || n > 65535) {
    throw new UsageError(`--${option} wants an integer from ${min} to 65535, got '${String(text)}'`);
  }
  return n;
}

/** `--concurrency`: `auto` (the default) or a count. */
function parseConcurrency(text: string | boolean | undefined): ConcurrencySetting {
  if (text === undefined || text === 'auto') return 'auto';
  return parseInteger(text, 'concurrency', 1, 1);
}

/** Resolves on the first SIGINT or SIGTERM. */
function shutdownSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (signal: string): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** `nnsam serve`: the inference node's HTTP server. */
export const serveCommand: Command = {
  name: 'serve',
  summary: 'run an inference node (POST /v1/run, /healthz, /metrics) for the edge Worker',
  usage:
    'serve [--host 127.0.0.1] [--port 8788] [--models DIR] [--device cpu|webgpu|wasm] [--threads N] [--concurrency auto|N] [--queue N] [--max-input-mb N] [--max-evaluations N] [--max-memory-mb N] [--max-run-seconds N] [--token-env NAME] [--allow-unauthenticated]',
  help: [
    ['--host H', 'interface to listen on (default 127.0.0.1)'],
    ['--port P', 'port (default 8788; 0 picks a free one)'],
    ['--models DIR', 'model folder (default: the package models/)'],
    ['--device D', 'cpu, webgpu (falls back to cpu without an adapter) or wasm (default cpu)'],
    ['--threads N', 'intra-op threads per model session (default 1)'],
    [
      '--concurrency auto|N',
      'runs at once, each on a worker thread of its own; auto (the default): one per --threads cores, 1 on webgpu',
    ],
    ['--queue N', 'runs waiting beyond that before 503 node_saturated (default 8)'],
    [
      '--max-input-mb N',
      `largest request body in MiB (default ${DEFAULT_READ_LIMITS.maxInputBytes / 2 ** 20})`,
    ],
    ...WORK_LIMIT_HELP,
    [
      '--max-run-seconds N',
      `wall time of one run, queueing included, before it ends with 504 run_timeout (default ${DEFAULT_MAX_RUN_SECONDS})`,
    ],
    ['--token-env NAME', 'require Authorization: Bearer <the value of env var NAME> (all but /healthz)'],
    [
      '--allow-unauthenticated',
      'listen beyond loopback without --token-env (anyone who reaches the port runs models unbilled)',
    ],
  ],
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    models: { type: 'string' },
    device: { type: 'string' },
    threads: { type: 'string' },
    concurrency: { type: 'string' },
    queue: { type: 'string' },
    'max-input-mb': { type: 'string' },
    'token-env': { type: 'string' },
    'allow-unauthenticated': { type: 'boolean' },
    'max-run-seconds': { type: 'string' },
    ...WORK_LIMIT_OPTIONS,
  },
  positionals: 0,
  async run(args, io) {
    const v = args.values;
    const host = (v.host as string | undefined) ?? '127.0.0.1';
    const port = parseInteger(v.port, 'port', 0, 8788);
    const device = parseChoice<Device>(
      v.device as string | undefined,
      'device',
      ['cpu', 'webgpu', 'wasm'],
      'cpu',
    );
    const threads = parseInteger(v.threads, 'threads', 1, 1);
    const concurrency = parseConcurrency(v.concurrency);
    const queue = parseInteger(v.queue, 'queue', 0, 8);
    const maxInputMb = parseInteger(
      v['max-input-mb'],
      'max-input-mb',
      1,
      DEFAULT_READ_LIMITS.maxInputBytes / 2 ** 20,
    );
    const work = parseWorkLimits(v);
    const maxRunSeconds = parseInteger(v['max-run-seconds'], 'max-run-seconds', 1, DEFAULT_MAX_RUN_SECONDS);
    const tokenEnv = v['token-env'] as string | undefined;
    let token: string | undefined;
    if (tokenEnv !== undefined) {
      token = process.env[tokenEnv];
      if (!token) throw new UsageError(`--token-env ${tokenEnv}: that environment variable is not set`);
    }
    // Without a token every route is open; on loopback only this machine reaches it, beyond it
    // anyone on the network would get unbilled compute, so that takes an explicit flag.
    if (!token && !isLoopback(host) && v['allow-unauthenticated'] !== true) {
      throw new UsageError(
        `--host ${host} listens beyond this machine: set --token-env NAME (the Worker's NODE_TOKEN), or pass --allow-unauthenticated on a network only the Worker reaches`,
      );
    }
    const modelsDir = (v.models as string | undefined) ?? DEFAULT_MODELS_DIR;
    const log = (line: Record<string, unknown>): void =>
      io.stderr(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`);
    const cores = availableParallelism();
    const runs = resolveConcurrency(concurrency, { cores, threads, device });
    const node = await startNode({
      host,
      port,
      modelsDir,
      device,
      threads,
      concurrency: runs,
      queue,
      token,
      limits: { maxInputBytes: maxInputMb * 2 ** 20 },
      work,
      maxRunSeconds,
      log,
    });
    // Handlers go in only once listening, so a failed start still exits on its own.
    const stopped = shutdownSignal();
    log({ msg: 'runs', concurrency: runs, setting: concurrency, threads, device, cores });
    io.stdout(`nnsam serve: listening on ${node.url}\n`);
    const signal = await stopped;
    log({ msg: 'shutdown', signal });
    await node.close();
  },
};

/** Whether `host` is this machine only: 127.0.0.0/8, ::1 or localhost. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
