/**
 * @module
 * Keeps one child process running for the local dev runner (`bin/dev.js`): when it exits on its own it
 * is started again after a short, growing delay, at most `maxRestarts` times in any `windowMs`, so a
 * killed inference node comes back while a crash loop (a taken port, a broken build) still ends.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** Options of {@link supervise}. */
export interface SuperviseOptions {
  /** The process's name in log lines, e.g. `inference node`. */
  name: string;
  /** Where the restart log lines go. */
  log: (line: string) => void;
  /** Called once when the restart budget is spent; the process then stays down. */
  onGiveUp: () => void;
  /** Restarts allowed in any `windowMs` (default 5). */
  maxRestarts?: number;
  /** The window of `maxRestarts` (default 60 s). */
  windowMs?: number;
  /** First delay; it doubles with each restart still in the window, up to 8x (default 500 ms). */
  backoffMs?: number;
}

/** A supervised process. */
export interface Supervised {
  /** The current child (a new object after each restart). */
  readonly child: ChildProcess;
  /** Restarts so far. */
  readonly restarts: number;
  /** Stops supervising and ends the child; resolves when it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs `start()` and starts it again whenever the child exits before {@link Supervised.stop}. */
export function supervise(start: () => ChildProcess, options: SuperviseOptions): Supervised {
  const max = options.maxRestarts ?? 5;
  const windowMs = options.windowMs ?? 60_000;
  const backoff = options.backoffMs ?? 500;
  const recent: number[] = [];
  let child = start();
  let restarts = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
    if (stopped) return;
    const now = Date.now();
    while (recent.length > 0 && now - recent[0] >= windowMs) recent.shift();
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (recent.length >= max) {
      options.log(
        `${options.name} exited (${how}) after ${max} restarts within ${windowMs / 1000} s; not restarting it`,
      );
      options.onGiveUp();
      return;
    }
    const delay = backoff * 2 ** Math.min(recent.length, 3);
    recent.push(now);
    options.log(
      `${options.name} exited (${how}); restarting it in ${delay} ms ` +
        `(restart ${recent.length} of at most ${max} per ${windowMs / 1000} s)`,
    );
    timer = setTimeout(() => {
      timer = undefined;
      if (stopped) return;
      restarts++;
      child = start();
      child.once('exit', onExit);
    }, delay);
  };
  child.once('exit', onExit);

  return {
    get child() {
      return child;
    },
    get restarts() {
      return restarts;
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      stopped = true;
      clearTimeout(timer);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
}
