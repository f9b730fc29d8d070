// What the Worker accepts from a node before it charges anyone: a run's frames must name the release
// that was asked for, carry a whole positive voxel count and a non-empty result whose size the end
// frame states; a saturated node's Retry-After is clamped to what a job can wait.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { encodeFrame, type Frame, type RunEnd, type RunMeta } from '../../engine/edge.js';
import { MAX_NODE_RETRY_AFTER_S, readRun, retryAfterOf, startRun } from './remote-run.js';

const ASKED = { id: 'brain-wm-2d', version: '1.2.0' };
const META: RunMeta = { content_type: 'application/gzip', shape: [4, 4, 1], voxels: 16 };
const END: RunEnd = {
  bytes: 3,
  model: 'brain-wm-2d',
  model_version: '1.2.0',
  stats: [],
  runtime: { provider: 'cpu' },
  timings_ms: { total: 1, model: 1, queued: 0 },
};
const DATA: Frame = { type: 'data', body: new Uint8Array([1, 2, 3]) };

function response(frames: Frame[]): Response {
  const bytes = frames.map(encodeFrame);
  return new Response(new Blob(bytes));
}

async function read(frames: Frame[]) {
  const got: Uint8Array[] = [];
  const outcome = await readRun(
    response(frames),
    { progress: () => {}, meta: () => {}, data: (b) => void got.push(b) },
    ASKED,
  );
  return { outcome, got };
}

describe('readRun', () => {
  it('accepts a run of the release asked for, and one from a node that names no release', async () => {
    const { outcome, got } = await read([{ type: 'meta', body: META }, DATA, { type: 'end', body: END }]);
    assert.equal(outcome.kind, 'done');
    assert.deepEqual(got, [new Uint8Array([1, 2, 3])]);
    const older = { ...END, model: undefined, model_version: undefined };
    assert.equal(
      (await read([{ type: 'meta', body: META }, DATA, { type: 'end', body: older }])).outcome.kind,
      'done',
    );
  });

  it('fails a run of another release: that is not what the tenant asked, or pays, for', async () => {
    for (const end of [
      { ...END, model_version: '2.0.0' },
      { ...END, model: 'other' },
    ]) {
      const { outcome } = await read([{ type: 'meta', body: META }, DATA, { type: 'end', body: end }]);
      assert.equal(outcome.kind, 'failed');
      assert.match((outcome as { reason: string }).reason, /asked brain-wm-2d@1\.2\.0/);
    }
  });

  it('fails a voxel count that is not a positive whole number before any data is taken', async () => {
    for (const voxels of [0, -16, 1.5, Number.MAX_SAFE_INTEGER + 2, '16' as unknown as number]) {
      const { outcome, got } = await read([
        { type: 'meta', body: { ...META, voxels } },
        DATA,
        { type: 'end', body: END },
      ]);
      assert.equal(outcome.kind, 'failed', String(voxels));
      assert.deepEqual(got, []);
    }
  });

  it('fails an empty result and a result whose size the end frame misstates', async () => {
    const empty = await read([
      { type: 'meta', body: META },
      { type: 'end', body: { ...END, bytes: 0 } },
    ]);
    assert.equal(empty.outcome.kind, 'failed');
    const short = await read([
      { type: 'meta', body: META },
      DATA,
      { type: 'end', body: { ...END, bytes: 4 } },
    ]);
    assert.equal(short.outcome.kind, 'failed');
  });
});

describe('retryAfterOf', () => {
  it('keeps a sane hint and clamps the rest into [1, MAX_NODE_RETRY_AFTER_S]', () => {
    assert.equal(retryAfterOf('5'), 5);
    assert.equal(retryAfterOf('2.2'), 3);
    for (const h of [null, '', '0', '-5', 'soon', 'NaN']) assert.equal(retryAfterOf(h), 1, String(h));
    for (const h of ['3600', '1e12', 'Infinity']) assert.equal(retryAfterOf(h), MAX_NODE_RETRY_AFTER_S, h);
  });
});

const servers: Server[] = [];
after(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));

/** A node whose `POST /v1/run` answers `status` with the problem `code`. */
async function refusingNode(status: number, code: string): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ type: `https://nnsam-edge.dev/problems/${code}`, status, detail: `a ${code}` }));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('startRun', () => {
  const run = (node: string) =>
    startRun(
      node,
      { model: 'brain-wm-2d@2.0.0', format: 'nifti', requestId: 'r' },
      new Uint8Array([1]),
      undefined,
      new AbortController().signal,
    );

  it("takes a node's model_not_found as that node's gap (try another), other 4xx as the input's", async () => {
    const lacking = await run(await refusingNode(404, 'model_not_found'));
    assert.equal(lacking.kind, 'failed');
    assert.match((lacking as { reason: string }).reason, /lacks the release/);
    const refused = await run(await refusingNode(422, 'invalid_input'));
    assert.deepEqual(refused, {
      kind: 'rejected',
      error: { status: 422, code: 'invalid_input', detail: 'a invalid_input' },
    });
  });
});
