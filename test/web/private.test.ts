/**
 * Private mode of the page (/app) in headless Chromium against the real Worker (workerd, its
 * static assets): the edge model runs in the browser on its edge runtime (brain-wm-2d: the own
 * U-Net runtime on the fp16 weights, relaxed SIMD in Chromium) and the same WASM kernels, the
 * browser's network log shows nothing but the page's own static assets going out (no upload, no
 * job, no one-shot), and the label map agrees with the CLI's on the same file with the same weights
 * (`--weights fp16 --device wasm`: onnxruntime-web on their web graph) and options (TTA).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { readImage, writeNifti } from '../../engine/io/index.js';
import { startApi, type ApiWorld } from '../workerd/api-world.js';
import { PRICES } from '../workerd/job-fixtures.js';
import { REPO_ROOT, SHARED_DATA } from '../support/goldens.js';

const SLICE = `${SHARED_DATA}fixtures/mr-aniso/BrainT1Slice.png`;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const MODEL = 'brain-wm-2d';

let w: ApiWorld;
let browser: Browser;
let base: string;
let key: string;
let tmp: string;

before(async () => {
  w = await startApi('private', {
    vars: { INFERENCE_NODES: 'http://127.0.0.1:9', DEFAULT_PRICES: JSON.stringify(PRICES) },
  });
  base = (await w.mf.ready).origin;
  key = await w.key('clinic');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'],
  });
  tmp = mkdtempSync(join(tmpdir(), 'nnsam-private-'));
});

after(async () => {
  await browser?.close();
  await w?.dispose();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The CLI on `input` with the edge's weights (fp16) on onnxruntime-web WASM (their web graph), TTA on. */
async function cli(
  input: string,
): Promise<{ labels: ArrayLike<number>; stats: { label: number; voxels: number }[] }> {
  const out = join(tmp, 'cli.nii.gz');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      `${REPO_ROOT}bin/nnsam.js`,
      'segment',
      input,
      '-o',
      out,
      '--model',
      MODEL,
      '--weights',
      'fp16',
      '--device',
      'wasm',
      '--tta',
      '--json',
    ],
    { maxBuffer: 16 * 2 ** 20 },
  );
  const summary = JSON.parse(stdout) as {
    labels: { label: number; voxels: number }[];
    runtime: { provider: string };
  };
  assert.equal(summary.runtime.provider, 'wasm');
  return { labels: readImage(new Uint8Array(readFileSync(out))).data, stats: summary.labels };
}

test('private mode: the slice is segmented in the browser, nothing is uploaded, labels equal the CLI', async () => {
  const minted = await w.fetch('/v1/upload-tokens', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ models: [MODEL], max_bytes: 50_000_000, max_jobs: 2, expires_in_minutes: 30 }),
  });
  assert.equal(minted.status, 201, await minted.clone().text());
  const { token } = (await minted.json()) as { token: string };
  const expected = cli(SLICE);

  const page = await browser.newPage({ viewport: { width: 1100, height: 1300 } });
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  await page.goto(`${base}/app#token=${token}`);
  await page.waitForFunction(() => !(document.getElementById('start') as HTMLButtonElement).disabled);
  await page.setInputFiles('#file', SLICE);
  await page.selectOption('#model', MODEL);
  await page.check('#private');
  assert.match(await page.locator('label[for="private"]').innerText(), /nothing is uploaded/i);
  assert.equal(await page.locator('#start').innerText(), 'Segment on this device');

  // From the click on, the browser's own network log (every request the page makes, any kind).
  const requests: { method: string; url: string; bytes: number }[] = [];
  page.on('request', (req) =>
    requests.push({ method: req.method(), url: req.url(), bytes: req.postDataBuffer()?.length ?? 0 }),
  );
  const started = Date.now();
  await page.click('#start');
  await page.waitForSelector('#result[data-ready="true"]', { timeout: 90_000 });
  const seconds = (Date.now() - started) / 1000;

  const remote = requests.filter((r) => !r.url.startsWith('blob:') && !r.url.startsWith('data:'));
  assert.ok(remote.length > 0, 'the page fetched its model assets');
  for (const r of remote) {
    const url = new URL(r.url);
    assert.equal(url.origin, base, `only the page's origin: ${r.url}`);
    assert.equal(r.method, 'GET', `no upload: ${r.method} ${r.url}`);
    assert.equal(r.bytes, 0, `no request body: ${r.url}`);
    assert.match(url.pathname, /^\/private\//, `only the private-mode assets, no API call: ${r.url}`);
  }
  assert.ok(!remote.some((r) => /\/v1\/(uploads|jobs|segment)/.test(r.url)));
  assert.match(await page.locator('#upload-status').innerText(), /nothing was uploaded/i);
  assert.match(await page.locator('#job-status').innerText(), /on this device.*unet-wasm, wasm/);
  assert.equal(await page.locator('#result').getAttribute('data-private'), 'true');

  // The same viewer and table as an API result: rows from the label map niivue decoded.
  const rows = await page.locator('#volumes tbody tr').evaluateAll((trs) =>
    trs.map((tr) => ({
      label: Number((tr as HTMLElement).dataset.label),
      voxels: Number((tr as HTMLElement).dataset.voxels),
    })),
  );
  const downloaded = await page.evaluate(async () => {
    const a = document.getElementById('download') as HTMLAnchorElement;
    return [...new Uint8Array(await (await fetch(a.href)).arrayBuffer())];
  });
  await page.close();
  const browserLabels = readImage(new Uint8Array(downloaded)).data;

  const reference = await expected;
  assert.deepEqual(
    rows,
    reference.stats.map((s) => ({ label: s.label, voxels: s.voxels })),
  );
  assert.equal(browserLabels.length, reference.labels.length);
  let same = 0;
  for (let i = 0; i < browserLabels.length; i++) if (browserLabels[i] === reference.labels[i]) same++;
  const agreement = same / browserLabels.length;
  console.log(
    `private mode: ${seconds.toFixed(1)} s in the browser; voxel agreement with the CLI ${(agreement * 100).toFixed(4)} % (${same}/${browserLabels.length}); labels ${JSON.stringify(rows)}`,
  );
  assert.ok(agreement >= 0.999, `voxel agreement ${agreement}`);
});

test('private mode says when NaN voxels were read as 0, as the API does', async () => {
  const slice = readImage(new Uint8Array(readFileSync(SLICE)));
  let holes = 0;
  const data = Float32Array.from(slice.data, (v) => (v !== 0 ? v : (holes++, NaN)));
  assert.ok(holes > 0, 'the slice has a background');
  const input = join(tmp, 'slice-nan.nii');
  writeFileSync(input, writeNifti(slice, data, { datatype: 'float32' }));
  const page = await browser.newPage({ viewport: { width: 1100, height: 1300 } });
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  await page.goto(`${base}/app`);
  await page.waitForFunction(() => !(document.getElementById('start') as HTMLButtonElement).disabled);
  await page.setInputFiles('#file', input);
  await page.selectOption('#model', MODEL);
  await page.check('#private');
  await page.click('#start');
  await page.waitForSelector('#result[data-ready="true"]', { timeout: 90_000 });
  assert.match(
    await page.locator('#job-status').innerText(),
    new RegExp(`Note: ${holes} of ${data.length} voxels were NaN or infinite and were read as 0`),
  );
  await page.close();
});
