// Bundles the page (web/) into dist/web, the Worker's static assets directory (wrangler.toml
// [assets]): one script with tus-js-client and niivue inside, so the page loads nothing from a CDN.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';
import { withFrameAncestors } from './frame-ancestors.mjs';

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
for (const file of ['app.html', 'app.css']) copyFileSync(new URL(file, import.meta.url), new URL(file, out));
writeFileSync(
  new URL('_headers', out),
  withFrameAncestors(
    readFileSync(new URL('_headers', import.meta.url), 'utf8'),
    process.env.PAGE_FRAME_ANCESTORS,
  ),
);

// Private mode (web/private.ts) runs the edge models in the browser: each edge-marked model's
// manifest and edge file, the kernels, the U-Net layer modules and onnxruntime-web's WASM binary (its JS glue is in app.js),
// all static assets of the page's own origin (Workers assets take files up to 25 MiB).
const root = new URL('../', import.meta.url);
const priv = new URL('private/', out);
mkdirSync(priv, { recursive: true });
copyFileSync(new URL('wasm/build/kernels.wasm', root), new URL('kernels.wasm', priv));
for (const unet of ['unet.wasm', 'unet.plain.wasm']) {
  copyFileSync(new URL(`wasm/build/${unet}`, root), new URL(unet, priv));
}
copyFileSync(
  new URL('node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm', root),
  new URL('ort-wasm-simd-threaded.wasm', priv),
);
for (const id of readdirSync(new URL('models/', root))) {
  const manifestUrl = new URL(`models/${id}/manifest.json`, root);
  if (!existsSync(manifestUrl)) continue;
  const manifest = JSON.parse(readFileSync(manifestUrl, 'utf8'));
  if (!manifest.edge) continue;
  const dir = new URL(`models/${id}/`, priv);
  mkdirSync(dir, { recursive: true });
  copyFileSync(manifestUrl, new URL('manifest.json', dir));
  copyFileSync(new URL(`models/${id}/${manifest.edge.file}`, root), new URL(manifest.edge.file, dir));
}
