/**
 * The page: a browser uploads a scan over tus with an upload token (never a tenant's API key),
 * follows the job's server-sent events and shows the label map over the scan in niivue. The token
 * comes in the URL fragment, which browsers never send to a server, and leaves the address bar at
 * once so that it is not bookmarked, shared or screenshotted.
 */
import { Niivue } from '@niivue/niivue';
import { DetailedError, Upload, type PreviousUpload } from 'tus-js-client';
import { ApiProblemError, NnsamClient } from '../engine/client/client.js';
import {
  UPLOAD_TOKEN_FORMAT,
  type ApiJob,
  type ApiLabelStats,
  type ApiModel,
} from '../engine/client/api-types.js';
import { checksumStack, sha256Hex } from './checksum-stack.js';
import { segmentPrivately } from './private.js';
import { sessionUrlStorage } from './session-url-storage.js';

// Small chunks: on a poor link a cut costs at most one chunk, and each is checked on arrival.
const CHUNK_BYTES = 512 * 1024;
const TOKEN_KEY = 'nnsam-upload-token';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const errorBox = $<HTMLDivElement>('error');
const form = $<HTMLFormElement>('upload-form');
const fileInput = $<HTMLInputElement>('file');
const modelSelect = $<HTMLSelectElement>('model');
const startButton = $<HTMLButtonElement>('start');
const privateBox = $<HTMLInputElement>('private');
const uploadBar = $<HTMLProgressElement>('upload-progress');
const uploadStatus = $<HTMLParagraphElement>('upload-status');
const jobBar = $<HTMLProgressElement>('job-progress');
const jobStatus = $<HTMLParagraphElement>('job-status');
const resultSection = $<HTMLElement>('result');

/** Set when the link held something other than an upload token (a tenant's API key, say). */
let refusedCredential = false;

function takeToken(): string | null {
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromFragment) {
    history.replaceState(null, '', location.pathname + location.search);
    // Only an upload token: a tenant's API key in a patient's link would work on every route, so
    // it is dropped, never stored, and the page says why.
    if (!UPLOAD_TOKEN_FORMAT.test(fromFragment)) {
      refusedCredential = true;
      sessionStorage.removeItem(TOKEN_KEY);
      return null;
    }
    // sessionStorage, not localStorage: the token dies with the tab, and a reload still resumes.
    sessionStorage.setItem(TOKEN_KEY, fromFragment);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Shows an API problem's title and detail (or any other failure) where a screen reader announces it. */
function showError(err: unknown): void {
  let title = 'Something went wrong';
  let detail = err instanceof Error ? err.message : String(err);
  if (err instanceof ApiProblemError) {
    title = err.problem.title;
    detail = err.problem.detail;
  } else if (err instanceof DetailedError) {
    const res = err.originalResponse;
    if (!res) {
      title = 'The connection to the server was lost';
      detail = 'Check the network and press "Upload and segment" again: the upload resumes where it stopped.';
    } else {
      try {
        const problem = JSON.parse(res.getBody()) as { title: string; detail: string };
        title = problem.title;
        detail = problem.detail;
      } catch {
        title = `The server answered ${res.getStatus()}`;
        detail = res.getBody();
      }
    }
  }
  errorBox.replaceChildren();
  const strong = document.createElement('strong');
  strong.textContent = `${title}. `;
  errorBox.append(strong, detail);
  errorBox.hidden = false;
  errorBox.dataset.title = title;
}

const mib = (n: number) => (n / 2 ** 20).toFixed(2);

function contentType(name: string): string {
  const lower = name.toLowerCase();
  if (lower.endsWith('.nii.gz')) return 'application/gzip';
  if (lower.endsWith('.nii')) return 'application/octet-stream';
  if (lower.endsWith('.png')) return 'image/png';
  if (/\.jpe?g$/.test(lower)) return 'image/jpeg';
  if (lower.endsWith('.zip')) return 'application/zip';
  if (lower.endsWith('.dcm')) return 'application/dicom';
  return 'application/octet-stream';
}

/** Uploads `file` over tus, resuming an earlier upload of the same file (a reload, a cut) if any. */
function upload(file: File, token: string, sha256: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const tus: Upload = new Upload(file, {
      endpoint: new URL('/v1/uploads', location.href).href,
      headers: { authorization: `Bearer ${token}` },
      metadata: { filename: file.name, filetype: contentType(file.name), sha256 },
      chunkSize: CHUNK_BYTES,
      httpStack: checksumStack(),
      // tus-js-client retries after a lost connection from the server's offset (HEAD); 460 (a
      // chunk spoiled in transit) and 409 (an offset the server lacks) are worth the same.
      retryDelays: [0, 1000, 2000, 4000, 8000, 15000],
      onShouldRetry: (err, _attempt, options) => {
        const status = err.originalResponse?.getStatus() ?? 0;
        return (
          options.retryDelays !== null && (status === 0 || status === 409 || status === 460 || status >= 500)
        );
      },
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      urlStorage: sessionUrlStorage,
      onProgress: (sent, total) => {
        uploadBar.max = total;
        uploadBar.value = sent;
        uploadStatus.textContent = `Uploading: ${mib(sent)} of ${mib(total)} MiB.`;
      },
      onError: reject,
      onSuccess: () => resolve(tus.url!.slice(tus.url!.lastIndexOf('/') + 1)),
    });
    void tus.findPreviousUploads().then((previous: PreviousUpload[]) => {
      if (previous.length > 0) {
        // creationTime is a Date's toString(): compared as text it sorts by weekday name.
        previous.sort((a, b) => Date.parse(b.creationTime) - Date.parse(a.creationTime));
        tus.resumeFromPreviousUpload(previous[0]);
        uploadStatus.textContent = 'Resuming an earlier upload of this file.';
      }
      tus.start();
    }, reject);
  });
}

function describeJob(job: ApiJob): string {
  const p = job.progress;
  const steps = p.total > 0 ? ` (${p.done} of ${p.total})` : '';
  return `Job ${job.status}: ${p.stage}${steps}, ${Math.round(p.fraction * 100)} %.${notes(job.warnings ?? [])}`;
}

/** The input's warnings (modality, NaN voxels read as 0) after a status line; nothing when none. */
function notes(warnings: string[]): string {
  return warnings.length > 0 ? ` Note: ${warnings.join('; ')}.` : '';
}

let viewer: Niivue | null = null;
let downloadUrl: string | null = null;

/** Voxels per label value in the label map as the viewer decoded it (what the user sees). */
function countLabels(img: ArrayLike<number>): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < img.length; i++) {
    const v = img[i];
    if (v !== 0) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return counts;
}

function showVolumes(stats: ApiLabelStats[], shown: Map<number, number>): void {
  const body = document.querySelector('#volumes tbody')!;
  body.replaceChildren(
    ...stats.map((s) => {
      const row = document.createElement('tr');
      row.dataset.label = String(s.label);
      row.dataset.voxels = String(shown.get(s.label) ?? 0);
      row.dataset.volumeMl = String(s.volume_ml);
      for (const text of [String(s.label), s.name, String(shown.get(s.label) ?? 0), s.volume_ml.toFixed(2)]) {
        const cell = document.createElement('td');
        cell.textContent = text;
        row.append(cell);
      }
      return row;
    }),
  );
}

async function showResult(
  file: File,
  stats: ApiLabelStats[],
  labelMap: Uint8Array<ArrayBuffer>,
): Promise<void> {
  resultSection.hidden = false;
  const blob = new Blob([labelMap], { type: 'application/gzip' });
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = URL.createObjectURL(blob);
  const link = $<HTMLAnchorElement>('download');
  link.href = downloadUrl;
  link.download = `${file.name.replace(/(\.nii)?(\.gz)?$|\.(png|jpe?g|zip|dcm)$/i, '')}_labels.nii.gz`;

  const opacity = $<HTMLInputElement>('opacity');
  // A cyan crosshair: red is the overlay's colour.
  viewer ??= new Niivue({ backColor: [0, 0, 0, 1], crosshairColor: [0, 0.8, 1, 1], show3Dcrosshair: false });
  await viewer.attachToCanvas($<HTMLCanvasElement>('viewer'));
  const isNifti = /\.nii(\.gz)?$/i.test(file.name);
  const overlay = {
    url: downloadUrl,
    name: 'labels.nii.gz',
    colormap: 'red',
    cal_min: 0.5,
    cal_max: 1,
    opacity: Number(opacity.value) / 100,
  };
  // niivue reads NIfTI; for PNG, JPEG and DICOM inputs the label map is shown on its own.
  const volumes = isNifti
    ? [{ url: URL.createObjectURL(file), name: file.name, colormap: 'gray' }, overlay]
    : [{ ...overlay, opacity: 1 }];
  await viewer.loadVolumes(volumes);
  viewer.setSliceType(viewer.sliceTypeMultiplanar);
  const labels = viewer.volumes[viewer.volumes.length - 1];
  const shown = countLabels(labels.img as ArrayLike<number>);
  showVolumes(stats, shown);
  resultSection.dataset.overlayVoxels = String([...shown.values()].reduce((a, b) => a + b, 0));

  opacity.oninput = () => viewer!.setOpacity(viewer!.volumes.length - 1, Number(opacity.value) / 100);
  const dims = (labels.hdr?.dims ?? [3, 1, 1, 1]).slice(1, 4);
  const sliders = ['slice-x', 'slice-y', 'slice-z'].map((id) => $<HTMLInputElement>(id));
  sliders.forEach((slider, axis) => {
    slider.max = String(Math.max(0, dims[axis] - 1));
    slider.value = String(Math.floor(dims[axis] / 2));
    slider.oninput = () => {
      const pos = viewer!.scene.crosshairPos;
      pos[axis] = (Number(slider.value) + 0.5) / dims[axis];
      viewer!.drawScene();
    };
  });
  viewer.onLocationChange = () => {
    const pos = viewer!.scene.crosshairPos;
    sliders.forEach((slider, axis) => (slider.value = String(Math.floor(pos[axis] * dims[axis]))));
  };
  resultSection.dataset.ready = 'true';
}

async function run(client: NnsamClient, token: string, file: File, model: string): Promise<void> {
  errorBox.hidden = true;
  resultSection.hidden = true;
  delete resultSection.dataset.ready;
  uploadStatus.textContent = 'Computing the file checksum (SHA-256).';
  const uploadId = await upload(file, token, await sha256Hex(file));
  uploadStatus.textContent = `Uploaded and verified (SHA-256): ${file.name}.`;
  uploadStatus.dataset.uploadId = uploadId;
  // The key is the upload's: pressing the button again after a glitch gives the same job, charged once.
  let job = await client.createJob({ upload_id: uploadId, model }, `page-${uploadId}-${model}`);
  jobStatus.textContent = describeJob(job);
  jobStatus.dataset.jobId = job.id;
  job = await client.waitForJob(job.id, (j) => {
    jobBar.value = j.progress.fraction;
    jobStatus.textContent = describeJob(j);
  });
  jobStatus.textContent = describeJob(job);
  if (job.status !== 'succeeded') {
    throw new Error(job.error ? job.error.detail : `The job ended ${job.status}.`);
  }
  jobBar.value = 1;
  await showResult(file, job.stats ?? [], (await client.jobResult(job.id)) as Uint8Array<ArrayBuffer>);
}

/** Private mode: the model runs in this tab; the file is never sent (web/private.ts). */
async function runPrivately(file: File, model: string): Promise<void> {
  errorBox.hidden = true;
  resultSection.hidden = true;
  delete resultSection.dataset.ready;
  delete resultSection.dataset.private;
  uploadBar.value = 0;
  uploadStatus.textContent = 'Private mode: nothing is uploaded.';
  jobBar.removeAttribute('value');
  const result = await segmentPrivately(file, model, (text) => (jobStatus.textContent = text));
  jobBar.value = 1;
  jobStatus.textContent = `Segmented on this device with ${model} (${result.runtime}, ${result.provider}) in ${result.totalMs} ms (model ${result.modelMs} ms).${notes(result.warnings)}`;
  uploadStatus.textContent = `Private mode: ${file.name} was read and segmented on this device; nothing was uploaded.`;
  resultSection.dataset.private = 'true';
  await showResult(file, result.stats, result.labelMap);
}

async function main(): Promise<void> {
  const token = takeToken();
  const client = new NnsamClient({ baseUrl: location.origin, apiKey: token ?? undefined });
  try {
    const models: ApiModel[] = await client.models();
    modelSelect.replaceChildren(
      ...models.map((m) => {
        const option = document.createElement('option');
        option.value = m.id;
        option.textContent = `${m.id} (${m.modality})`;
        return option;
      }),
    );
  } catch (err) {
    showError(err);
    return;
  }
  const noToken = new Error(
    refusedCredential
      ? 'The link held a credential that is not an upload token (nut_…); the page does not use it. Ask for a new link, or use private mode.'
      : 'This page needs an upload token in its address: /app#token=nut_… (npm start prints one), or private mode.',
  );
  if (!token) showError(noToken);
  const label = () =>
    (startButton.textContent = privateBox.checked ? 'Segment on this device' : 'Upload and segment');
  privateBox.addEventListener('change', label);
  label();
  startButton.disabled = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const file = fileInput.files?.[0];
    if (!file) return;
    if (!privateBox.checked && !token) {
      showError(noToken);
      return;
    }
    startButton.disabled = true;
    (privateBox.checked
      ? runPrivately(file, modelSelect.value)
      : run(client, token!, file, modelSelect.value)
    )
      .catch(showError)
      .finally(() => (startButton.disabled = false));
  });
}

// A link opened on the open page changes only its fragment: nothing loads, so the new token would
// stay in the address bar, unused (found by review). Loading again takes it as a first load does.
// The token already held only leaves the address bar: a reload would lose an upload or job in flight.
addEventListener('hashchange', () => {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (token === null) return;
  if (token === sessionStorage.getItem(TOKEN_KEY))
    history.replaceState(null, '', location.pathname + location.search);
  else location.reload();
});

void main();
