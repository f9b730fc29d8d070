/**
 * Inference nodes for the API tests: real `nnsam serve` processes on loopback ports, which the
 * tests can kill like a crashed machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../support/goldens.js';

/** A running `nnsam serve`. */
export interface InferenceNode {
  url: string;
  child: ChildProcess;
  /** Every stderr line (the node's JSON logs). */
  logs: string[];
  /** Kills the process (SIGKILL by default, as a crash) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `nnsam serve --port 0 ...args` (in `env`, default this process's) and resolves once it listens. */
export async function startNode(args: string[] = [], env?: NodeJS.ProcessEnv): Promise<InferenceNode> {
  const child = spawn(
    process.execPath,
    [`${REPO_ROOT}bin/nnsam.js`, 'serve', '--host', '127.0.0.1', '--port', '0', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  const logs: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`nnsam serve did not start:\n${logs.join('\n')}`)),
      60_000,
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nnsam serve exited with ${code}:\n${logs.join('\n')}`));
    });
  });
  return {
    url,
    child,
    logs,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
}

/** A loopback port that was free a moment ago (for a node that must come back on the same port). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** An origin nothing listens on: an inference node that is always down. */
export async function closedOrigin(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}
