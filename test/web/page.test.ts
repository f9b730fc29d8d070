/**
 * The page (/app) in headless Chromium (Debian's, driven by playwright-core; nothing downloads a
 * browser) against the real stack: the Worker in workerd with its static assets and a real
 * inference node. fsB goes up through the page with one chunk's connection cut, the job runs, and
 * what the viewer shows is checked against the API's own answer for the job.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { decode } from 'fast-png';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startApi, type ApiWorld } from '../workerd/api-world.js';
import { startNode, type InferenceNode } from '../workerd/inference-nodes.js';
import { PRICES } from '../workerd/job-fixtures.js';
import { REPO_ROOT, SHARED_DATA } from '../support/goldens.js';

const FSB_PATH = `${SHARED_DATA}brain-wm/imagesTr/fsB_0000.nii.gz`;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
// The committed screenshots (docs/screenshots) are refreshed only on request
// (NNSAM_SCREENSHOTS=docs/screenshots), so a test run leaves the working tree as it was.
const SHOTS = process.env.NNSAM_SCREENSHOTS
  ? resolve(REPO_ROOT, process.env.NNSAM_SCREENSHOTS)
  : join(tmpdir(), 'nnsam-page-screenshots');

let w: ApiWorld;
let node: InferenceNode;
let browser: Browser;
let base: string;
let key: string;

before(async () => {
  node = await startNode(['--queue', '16']);
  w = await startApi('page', {
    vars: { INFERENCE_NODES: node.url, DEFAULT_PRICES: JSON.stringify(PRICES), MAX_JOB_SECONDS: '1800' },
  });
  base = (await w.mf.ready).origin;
  key = await w.key('clinic');
  // SwiftShader gives headless Chromium the WebGL2 that niivue draws with, without a GPU.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'],
  });
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await w?.dispose();
  await node?.kill();
});

async function mint(body: Record<string, unknown> = {}): Promise<{ id: string; token: string }> {
  const res = await w.fetch('/v1/upload-tokens', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      models: ['brain-wm-2d'],
      max_bytes: 50_000_000,
      max_jobs: 2,
      expires_in_minutes: 30,
      ...body,
    }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as { id: string; token: string };
}

async function openPage(token: string, viewport = { width: 1100, height: 1300 }): Promise<Page> {
  const page = await browser.newPage({ viewport });
  // SwiftShader renders WebGL on the CPU: a full-page screenshot can take tens of seconds when
  // other test files load both cores.
  page.setDefaultTimeout(180_000);
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  await page.goto(`${base}/app#token=${token}`);
  await page.waitForFunction(() => !(document.getElementById('start') as HTMLButtonElement).disabled);
  return page;
}

/** Pixels of the viewer canvas where red (the overlay) clearly dominates. */
async function redPixels(page: Page): Promise<number> {
  const png = decode(await page.locator('#viewer').screenshot());
  const px = png.data;
  const step = png.channels;
  let red = 0;
  for (let i = 0; i < px.length; i += step) if (px[i] > px[i + 1] + 60 && px[i] > px[i + 2] + 60) red++;
  return red;
}

test('fsB through the page: a cut chunk resumes, the job runs, the overlay shows the API result', async () => {
  const { token } = await mint();
  const page = await openPage(token);
  assert.ok(!page.url().includes('nut_'), 'the token leaves the address bar');
  assert.match(await page.locator('#research-notice').innerText(), /research use only/i);

  // Keyboard order: file, model, start.
  await page.locator('#file').focus();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'model');

  const patches: { offset: number; aborted: boolean }[] = [];
  const heads: number[] = [];
  // What the page keeps to resume, seen mid-upload: the file name must not outlive the tab.
  let kept: { local: string[]; session: string[] } | undefined;
  await page.route('**/v1/uploads/*', async (route) => {
    const req = route.request();
    if (req.method() === 'HEAD') heads.push(patches.length);
    if (req.method() !== 'PATCH') return route.continue();
    const offset = Number(req.headers()['upload-offset']);
    // The second chunk's connection drops, as on a poor mobile link.
    const aborted = patches.length === 1;
    patches.push({ offset, aborted });
    if (aborted) {
      kept = await page.evaluate(() => ({
        local: Object.keys(localStorage).map((k) => `${k}=${localStorage.getItem(k)}`),
        session: Object.keys(sessionStorage).filter((k) => k.startsWith('tus::')),
      }));
    }
    assert.match(req.headers()['upload-checksum'] ?? '', /^sha256 [A-Za-z0-9+/]+=*$/);
    return aborted ? route.abort('connectionreset') : route.continue();
  });

  await page.setInputFiles('#file', FSB_PATH);
  await page.selectOption('#model', 'brain-wm-2d');
  await page.screenshot({ path: `${SHOTS}/page-upload.png`, fullPage: true });
  await page.click('#start');

  await page.waitForFunction(() =>
    /Job (queued|running)/.test(document.getElementById('job-status')!.textContent!),
  );
  const uploadId = await page.locator('#upload-status').getAttribute('data-upload-id');
  assert.ok(uploadId);
  const cut = patches.findIndex((p) => p.aborted);
  assert.equal(cut, 1, JSON.stringify(patches));
  assert.deepEqual(kept?.local, [], 'nothing of the upload in localStorage');
  assert.equal(kept?.session.length, 1, 'the resume entry lives in sessionStorage');
  assert.ok(
    heads.some((n) => n > cut),
    'after the cut the page asks the server for its offset (HEAD)',
  );
  assert.equal(patches[cut + 1]?.offset, patches[cut].offset, 'the upload resumes at the cut, not from 0');
  assert.ok(
    patches.slice(cut + 1).every((p) => p.offset > 0),
    JSON.stringify(patches),
  );
  const upload = (await (
    await w.fetch(`/v1/uploads/${uploadId}`, { headers: { authorization: `Bearer ${key}` } })
  ).json()) as { state: string; length: number };
  assert.equal(upload.state, 'complete');

  // The progress screenshot once the node reports slabs done (or the result is already there).
  await page.waitForFunction(
    () =>
      (document.getElementById('job-progress') as HTMLProgressElement).value > 0 ||
      document.getElementById('result')!.dataset.ready === 'true',
    null,
    { timeout: 1_500_000 },
  );
  await page.screenshot({ path: `${SHOTS}/page-progress.png`, fullPage: true });

  await page.waitForSelector('#result[data-ready="true"]', { timeout: 1_500_000 });
  const jobId = await page.locator('#job-status').getAttribute('data-job-id');
  const job = (await (
    await w.fetch(`/v1/jobs/${jobId}`, { headers: { authorization: `Bearer ${key}` } })
  ).json()) as {
    status: string;
    stats: { label: number; voxels: number; volume_ml: number }[];
  };
  assert.equal(job.status, 'succeeded');
  assert.ok(job.stats.length > 0 && job.stats[0].voxels > 0, JSON.stringify(job.stats));

  // The page's counts are those of the label map the viewer decoded; they must be the API's.
  const rows = await page.locator('#volumes tbody tr').evaluateAll((trs) =>
    trs.map((tr) => ({
      label: Number((tr as HTMLElement).dataset.label),
      voxels: Number((tr as HTMLElement).dataset.voxels),
      ml: tr.children[3].textContent,
    })),
  );
  assert.deepEqual(
    rows,
    job.stats.map((s) => ({ label: s.label, voxels: s.voxels, ml: s.volume_ml.toFixed(2) })),
  );
  const overlayVoxels = Number(await page.locator('#result').getAttribute('data-overlay-voxels'));
  assert.equal(
    overlayVoxels,
    job.stats.reduce((a, s) => a + s.voxels, 0),
  );

  // The overlay is drawn: red where the mask is, gone at opacity 0 (set by keyboard).
  const shown = await redPixels(page);
  assert.ok(shown > 500, `red overlay pixels: ${shown}`);
  await page.screenshot({ path: `${SHOTS}/page-result.png`, fullPage: true });
  await page.locator('#opacity').focus();
  await page.keyboard.press('Home');
  const hidden = await redPixels(page);
  assert.ok(hidden < shown / 20, `red pixels at opacity 0: ${hidden} (at 60 %: ${shown})`);

  // Scrolling the axial slider moves the axial plane: the drawn picture changes.
  // A clip, not an element screenshot: niivue redraws on every input, which Playwright's wait for a
  // stable element can mistake for motion.
  await page.locator('#slice-z').focus();
  const clip = (await page.locator('#viewer').boundingBox())!;
  const before = await page.screenshot({ clip });
  for (let i = 0; i < 20; i++) await page.keyboard.press('ArrowRight');
  assert.notDeepEqual(await page.screenshot({ clip }), before, 'the slice slider moves the view');

  // The download is the API's label map, byte for byte.
  const apiResult = new Uint8Array(
    await (
      await w.fetch(`/v1/jobs/${jobId}/result`, { headers: { authorization: `Bearer ${key}` } })
    ).arrayBuffer(),
  );
  const downloaded = await page.evaluate(async () => {
    const a = document.getElementById('download') as HTMLAnchorElement;
    return { name: a.download, bytes: [...new Uint8Array(await (await fetch(a.href)).arrayBuffer())] };
  });
  assert.equal(downloaded.name, 'fsB_0000_labels.nii.gz');
  assert.deepEqual(new Uint8Array(downloaded.bytes), apiResult);
  await page.close();
});

test('a token in a fragment-only navigation of the open page is taken, not left in the address bar', async () => {
  const first = await mint();
  const second = await mint();
  const page = await openPage(first.token);
  assert.deepEqual(await page.evaluate(() => Object.values(sessionStorage)), [first.token]);
  // The token it holds again: out of the address bar without a reload, which would lose work in flight.
  await page.evaluate((t) => {
    (window as unknown as { inFlight: boolean }).inFlight = true;
    location.hash = `token=${t}`;
  }, first.token);
  await page.waitForFunction(() => !location.hash.includes('nut_'));
  assert.equal(await page.evaluate(() => (window as unknown as { inFlight?: boolean }).inFlight), true);
  await Promise.all([
    page.waitForEvent('load'),
    page.evaluate((t) => (location.hash = `token=${t}`), second.token),
  ]);
  await page.waitForFunction(() => !location.hash.includes('nut_'));
  assert.ok(!page.url().includes('nut_'), 'the new token leaves the address bar');
  assert.deepEqual(await page.evaluate(() => Object.values(sessionStorage)), [second.token]);
  await page.close();
});

test("a tenant's API key in the link is refused: not stored, not used, and the page says so", async () => {
  const page = await openPage(key);
  assert.ok(!page.url().includes(key), 'the key leaves the address bar');
  const error = page.locator('#error');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.innerText(), /not an upload token/);
  assert.deepEqual(await page.evaluate(() => Object.values(sessionStorage)), []);
  const sent: string[] = [];
  page.on('request', (r) => sent.push(r.headers()['authorization'] ?? ''));
  await page.setInputFiles('#file', FSB_PATH);
  await page.click('#start');
  await page.waitForTimeout(500);
  assert.ok(!sent.some((a) => a.includes(key)), 'the key is never sent');
  await page.close();
});

test('a revoked or forged token gets the API problem as the page error; the page fits a phone', async () => {
  const revoked = await mint();
  const del = await w.fetch(`/v1/upload-tokens/${revoked.id}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${key}` },
  });
  assert.equal(del.status, 204);
  const forged = `nut_0123456789abcdef_${'x'.repeat(43)}`;
  for (const token of [revoked.token, forged]) {
    const expected = await w.fetch('/v1/uploads', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0', 'upload-length': '10' },
    });
    assert.equal(expected.status, 401);
    const problem = (await expected.json()) as { title: string; detail: string };
    const page = await openPage(token, { width: 390, height: 844 });
    await page.setInputFiles('#file', FSB_PATH);
    await page.click('#start');
    const error = page.locator('#error');
    await error.waitFor({ state: 'visible' });
    assert.equal(await error.getAttribute('role'), 'alert');
    const text = await error.innerText();
    assert.ok(
      text.includes(problem.title) && text.includes(problem.detail),
      `${text} / ${JSON.stringify(problem)}`,
    );
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways at phone width by ${overflow} px`);
    if (token === forged) await page.screenshot({ path: `${SHOTS}/page-error-phone.png`, fullPage: true });
    await page.close();
  }
});
