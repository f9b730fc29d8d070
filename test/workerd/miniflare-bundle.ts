import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { Miniflare, type WorkerOptions } from 'miniflare';
import { REPO_ROOT } from '../support/goldens.js';

/** Compatibility settings shared by every Worker the tests run (those of wrangler.toml). */
export const COMPAT = {
  compatibilityDate: '2026-04-20',
  compatibilityFlags: ['nodejs_compat', 'enable_request_signal'],
};

/**
 * Bundles a Worker with wrangler (as a deploy would) and returns the Miniflare options naming its
 * modules: Miniflare wants them listed, the script and any pre-compiled WASM module.
 */
export function bundleWorker(config: string, outDir: string): Pick<WorkerOptions, 'modulesRoot' | 'modules'> {
  rmSync(outDir, { recursive: true, force: true });
  const built = spawnSync(
    process.execPath,
    [
      `${REPO_ROOT}node_modules/wrangler/bin/wrangler.js`,
      'deploy',
      '--dry-run',
      '--config',
      config,
      '--outdir',
      outDir,
    ],
    { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
  );
  assert.equal(built.status, 0, `wrangler bundle failed:\n${built.stdout}\n${built.stderr}`);
  const files = readdirSync(outDir);
  const script = files.filter((f) => f.endsWith('.js'));
  assert.equal(script.length, 1, `one bundled script expected in ${outDir}, found ${script.join(', ')}`);
  return {
    modulesRoot: outDir,
    modules: [
      { type: 'ESModule', path: `${outDir}/${script[0]}` },
      ...files
        .filter((f) => f.endsWith('.wasm'))
        .map((f) => ({ type: 'CompiledWasm' as const, path: `${outDir}/${f}` })),
    ],
  };
}

/** Bundles a Worker that carries the kernel module and serves it in workerd through Miniflare. */
export function startBundledWorker(
  config: string,
  outDir: string,
  bindings: Record<string, string> = {},
): Miniflare {
  const bundle = bundleWorker(config, outDir);
  assert.ok(
    (bundle.modules as { type: string }[]).some((m) => m.type === 'CompiledWasm'),
    'the bundle carries its WASM as separate compiled modules (workerd cannot compile bytes)',
  );
  return new Miniflare({ ...bundle, ...COMPAT, bindings });
}
