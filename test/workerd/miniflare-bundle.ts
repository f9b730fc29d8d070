import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { Miniflare } from 'miniflare';
import { REPO_ROOT } from '../support/goldens.js';

/**
 * Bundles a Worker with wrangler (as a deploy would) and serves it in workerd through Miniflare.
 * Miniflare wants the bundle's modules listed: the script and its pre-compiled WASM module.
 */
export function startBundledWorker(
  config: string,
  outDir: string,
  bindings: Record<string, string> = {},
): Miniflare {
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
  const wasm = files.filter((f) => f.endsWith('.wasm'));
  const script = files.filter((f) => f.endsWith('.js'));
  assert.equal(script.length, 1, `one bundled script expected in ${outDir}, found ${script.join(', ')}`);
  assert.equal(wasm.length, 1, 'the bundle carries the kernel module as a separate compiled module');
  return new Miniflare({
    modulesRoot: outDir,
    modules: [
      { type: 'ESModule', path: `${outDir}/${script[0]}` },
      { type: 'CompiledWasm', path: `${outDir}/${wasm[0]}` },
    ],
    compatibilityDate: '2026-04-20',
    compatibilityFlags: ['nodejs_compat'],
    bindings,
  });
}
