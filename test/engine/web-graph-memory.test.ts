/**
 * The onnxruntime-web graph of a release (training/web_graph.py) fits where onnxruntime-web runs it
 * (the `wasm` device; the edge for a release whose `edge.runtime` is onnxruntime-web): an edge
 * isolate has 128 MB, WebAssembly memory included, and that memory never shrinks, so what
 * onnxruntime-web keeps while it folds the Winograd weights at load stays for the isolate's life
 * (docs/platform.md). Measured, not timed: the heap of one session in its own process
 * (web-graph-memory-probe.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MODELS = fileURLToPath(new URL('../../../models', import.meta.url));
const probe = fileURLToPath(new URL('./web-graph-memory-probe.js', import.meta.url));

interface WebGraph {
  folder: string;
  web: string;
  source: string;
}

/** Every web graph of every release folder (models/<id>, models/<id>/releases/<version>). */
function webGraphs(): WebGraph[] {
  const folders = readdirSync(MODELS).flatMap((id) => {
    const releases = join(MODELS, id, 'releases');
    return [id, ...(existsSync(releases) ? readdirSync(releases).map((v) => join(id, 'releases', v)) : [])];
  });
  return folders.flatMap((folder) => {
    const path = join(MODELS, folder, 'manifest.json');
    if (!existsSync(path)) return [];
    const m = JSON.parse(readFileSync(path, 'utf8')) as {
      files: Record<string, { web_graph_of?: string; sha256?: string }>;
    };
    return Object.entries(m.files).flatMap(([web, f]) =>
      f.web_graph_of ? [{ folder, web, source: f.web_graph_of }] : [],
    );
  });
}

// A release folder copied whole (the current one, again under releases/) holds the same files:
// one measurement per distinct file.
const heaps = new Map<string, number>();
function heapOf(file: string): number {
  const digest = createHash('sha256').update(readFileSync(file)).digest('hex');
  let bytes = heaps.get(digest);
  if (bytes === undefined) {
    const stdout = execFileSync(process.execPath, [probe, file], { encoding: 'utf8' });
    bytes = (JSON.parse(stdout.trim().split('\n').pop()!) as { wasmBytes: number }).wasmBytes;
    heaps.set(digest, bytes);
  }
  return bytes;
}

const graphs = webGraphs();

test('the web graphs are found: brain-wm-2d and its 2.0.0', () => {
  const folders = graphs.map((r) => r.folder);
  assert.ok(folders.includes('brain-wm-2d'), folders.join(', '));
  assert.ok(folders.includes(join('brain-wm-2d', 'releases', '2.0.0')), folders.join(', '));
});

for (const { folder, web: edge, source } of graphs) {
  test(`${folder}: the web graph ${edge}'s onnxruntime-web heap stays within 1.25x its source's and 96 MB`, () => {
    const web = heapOf(join(MODELS, folder, edge));
    const plain = heapOf(join(MODELS, folder, source));
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
    // Rewriting every wide layer, or folding U through a chain of MatMuls and reshapes, took it to 1.7-3x.
    assert.ok(web <= plain * 1.25, `${edge} ${mb(web)} against ${source} ${mb(plain)}`);
    assert.ok(web <= 96 * 2 ** 20, `${edge} ${mb(web)}: too close to the isolate's 128 MB`);
  });
}
