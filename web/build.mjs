// Bundles the page (web/) into dist/web, the Worker's static assets directory (wrangler.toml
// [assets]): one script with tus-js-client and niivue inside, so the page loads nothing from a CDN.
import { copyFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const out = new URL('../dist/web/', import.meta.url);
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [new URL('app.ts', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  outfile: new URL('app.js', out).pathname,
  logLevel: 'warning',
});
for (const file of ['app.html', 'app.css', '_headers'])
  copyFileSync(new URL(file, import.meta.url), new URL(file, out));
