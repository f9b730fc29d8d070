// The work an input implies is bounded in the Worker before anything runs (issue 10): the hostile
// inputs the issue found get a fast 413 work_too_large from their header alone (one-shots and jobs),
// nothing is charged, an input too big for the edge is not run inside the Worker, and the Worker
// keeps answering.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { writeNifti, type ImageVolume } from '../../engine/io/index.js';
import { expectProblem, openApiDoc, uploadClient, uploadWhole, type OpenApiDoc } from './api-checks.js';
import { startApi, type ApiWorld } from './api-world.js';
import { closedOrigin } from './inference-nodes.js';
import { PRICES } from './job-fixtures.js';
import { jobClient } from './job-client.js';

const MODEL = 'brain-wm-2d';
let w: ApiWorld;
let key: string;
let doc: OpenApiDoc;

before(async () => {
  w = await startApi('work-bounds', {
    vars: {
      DEFAULT_PRICES: JSON.stringify(PRICES),
      INFERENCE_NODES: await closedOrigin(),
      MAX_TENANT_EVALUATIONS: '5000',
    },
  });
  key = await w.key('bounds');
  doc = await openApiDoc(w);
});

after(async () => {
  await w?.dispose();
});

/** An axis-aligned volume of zeros (uint8) as gzipped NIfTI. */
function zeros(shape: [number, number, number], spacing: [number, number, number]): Uint8Array {
  return gzipSync(writeNifti(volume(shape, spacing), new Uint8Array(shape[0] * shape[1] * shape[2])), {
    level: 9,
  });
}

/** A gzipped NIfTI header declaring `shape` with no voxel data behind it. */
function headerOnly(shape: [number, number, number], spacing: [number, number, number]): Uint8Array {
  const bytes = writeNifti(volume([1, 1, 1], spacing), new Uint8Array(1), { datatype: 'uint8' });
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  shape.forEach((n, i) => view.setInt16(42 + 2 * i, n, true));
  return gzipSync(bytes.subarray(0, 352));
}

function volume(shape: [number, number, number], spacing: [number, number, number]): ImageVolume {
  return {
    shape,
    spacing,
    affine: [
      [spacing[0], 0, 0, 0],
      [0, spacing[1], 0, 0],
      [0, 0, spacing[2], 0],
      [0, 0, 0, 1],
    ],
    data: new Float32Array(0),
    datatype: 'uint8',
    format: 'nifti1',
  };
}

function segment(body: Uint8Array): Promise<Response> {
  return w.fetch(`/v1/segment?model=${MODEL}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' },
    body: body as unknown as BodyInit,
  });
}

test("issue 10's inputs get 413 work_too_large from their header, uncharged", async () => {
  const cases: [string, Uint8Array, RegExp][] = [
    [
      '32x32x16 at a z spacing of 196608 mm',
      zeros([32, 32, 16], [1, 1, 196608]),
      /network patch evaluations/,
    ],
    [
      '512x512x64 zeros at 2x2x3 mm (16 KB gzip)',
      zeros([512, 512, 64], [2, 2, 3]),
      /network patch evaluations/,
    ],
    // Only the header: were the Worker to read the voxels, it would answer nifti_truncated.
    ['512x512x1024 at 1 mm', headerOnly([512, 512, 1024], [1, 1, 1]), /network patch evaluations/],
    // Within the per-request bound (5760 evaluations), over what the tenant may have running at all.
    [
      '160x256x256 at 1 mm over the tenant bound',
      zeros([160, 256, 256], [1, 1, 1]),
      /a tenant's running requests/,
    ],
  ];
  for (const [what, body, detail] of cases) {
    const problem = await expectProblem(await segment(body), 413, 'work_too_large', doc, 'post /v1/segment');
    assert.match(problem.detail, detail, what);
  }
  const usage = (await (
    await w.fetch('/v1/usage', { headers: { authorization: `Bearer ${key}` } })
  ).json()) as {
    charges: unknown[];
  };
  assert.deepEqual(usage.charges, []);
});

test('a job over the bound is refused at creation, from the first bytes of its upload', async () => {
  const upload = await uploadWhole(uploadClient(w, key), zeros([512, 512, 64], [2, 2, 3]));
  const jobs = jobClient(w, key);
  const problem = await expectProblem(
    await jobs.create({ upload_id: upload, model: MODEL }),
    413,
    'work_too_large',
    doc,
    'post /v1/jobs',
  );
  assert.match(problem.detail, /61440 network patch evaluations \(512 slices of 1024x192/);
});

test('64x64x8 at 16x16x1 mm (3 KB) is not run inside the Worker: it goes to the nodes, and the Worker keeps answering', async () => {
  // 3840 evaluations: over the edge bound (64), within the node bound. No node listens here, so
  // the answer is 503 at once instead of a Worker frozen for minutes.
  const small = zeros([64, 64, 8], [16, 16, 1]);
  assert.ok(small.byteLength < 4096);
  const res = await segment(small);
  assert.equal(res.status, 503, await res.clone().text());
  assert.equal(
    ((await res.json()) as { type: string }).type,
    'https://nnsam-edge.dev/problems/no_inference_node',
  );
  assert.equal((await w.fetch('/healthz')).status, 200);
});
