/**
 * @module
 * The glibc setting every Node process that runs the kernels starts with (docs/platform.md, "Node
 * memory"): large `ArrayBuffer`s then come in transparent huge pages, as numpy's arrays do, instead
 * of one page fault per 4 KiB on first write. `bin/nnsam.js` sets it in its shebang (it cannot import
 * this), `bin/dev.js` for the node it starts, and the kernel benchmark for itself.
 */
import { spawnSync } from 'node:child_process';

/** glibc tunable: `malloc` marks its large blocks `MADV_HUGEPAGE`. */
export const HUGE_PAGES_TUNABLE = 'glibc.malloc.hugetlb=1';

/** Whether `env` (a process's environment) asks glibc for huge pages. */
export function hasHugePages(env: NodeJS.ProcessEnv): boolean {
  return (env.GLIBC_TUNABLES ?? '').split(':').includes(HUGE_PAGES_TUNABLE);
}

/** `env` with {@link HUGE_PAGES_TUNABLE} added to any tunables it already sets. */
export function withHugePages(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (hasHugePages(env)) return env;
  const tunables = env.GLIBC_TUNABLES ? `${env.GLIBC_TUNABLES}:${HUGE_PAGES_TUNABLE}` : HUGE_PAGES_TUNABLE;
  return { ...env, GLIBC_TUNABLES: tunables };
}

/**
 * glibc reads its tunables once, at start: a process started without the setting runs itself again
 * with it and exits with the child's status. Returns only in a process that has it.
 */
export function relaunchWithHugePages(): void {
  if (hasHugePages(process.env)) return;
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: withHugePages(process.env),
  });
  process.exit(r.status ?? 1);
}
