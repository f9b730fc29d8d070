// What the Worker accepts from a node before it charges anyone: a run's frames must name the release
// that was asked for, describe the input's shape with its voxel count, and carry a non-empty result
// no larger than that shape encodes to, whose size the end frame states; a saturated node's
// Retry-After is clamped to what a job can wait.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import {
  encodeFrame,
  maxResultBytes,
  type Frame,
  type RunEnd,
  type RunMeta,
  type RunProgress,
} from '../../engine/edge.js';
import {
  MAX_NODE_ERROR_BYTES,
  MAX_NODE_RETRY_AFTER_S,
  readRun,
  retryAfterOf,
  startRun,
  type RunAsked,
} from './remote-run.js';
import { flood } from '../../test/support/flood.js';

const ASKED: RunAsked = {
  id: 'brain-wm-2d',
  version: '1.2.0',
  format: 'nifti',
  shape: [4, 4, 1],
  maxVoxels: 1000,
};
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

async function read(frames: Frame[], asked = ASKED) {
  const got: Uint8Array[] = [];
  const outcome = await readRun(
    response(frames),
    { progress: () => {}, meta: () => {}, data: (b) => void got.push(b) },
    asked,
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

  it("fails a shape that is not the input's, and a voxel count that is not the shape's", async () => {
    for (const [meta, asked] of [
      [{ ...META, shape: [4, 2, 2] }, ASKED],
      [{ ...META, shape: [4, 4] }, ASKED],
      [{ ...META, shape: [4, 4, 1.5], voxels: 24 }, ASKED],
      [{ ...META, voxels: 32 }, ASKED],
      // Header unread: held to the work bounds' voxels.
      [
        { ...META, shape: [40, 40, 1], voxels: 1600 },
        { ...ASKED, shape: null },
      ],
    ] as [RunMeta, RunAsked][]) {
      const { outcome, got } = await read(
        [{ type: 'meta', body: meta }, DATA, { type: 'end', body: END }],
        asked,
      );
      assert.equal(outcome.kind, 'failed', JSON.stringify(meta));
      assert.deepEqual(got, []);
    }
    const unread = await read([{ type: 'meta', body: META }, DATA, { type: 'end', body: END }], {
      ...ASKED,
      shape: null,
    });
    assert.equal(unread.outcome.kind, 'done');
  });

  it("stops taking data past what the shape can encode to, or past the caller's ceiling, and data before meta", async () => {
    const most = maxResultBytes('nifti', META.shape);
    const frames = (n: number): Frame[] => [
      { type: 'meta', body: META },
      { type: 'data', body: new Uint8Array(n - 1) },
      { type: 'data', body: new Uint8Array(1) },
      { type: 'end', body: { ...END, bytes: n } },
    ];
    assert.equal((await read(frames(most))).outcome.kind, 'done');
    const over = await read(frames(most + 1));
    assert.equal(over.outcome.kind, 'failed');
    assert.match((over.outcome as { reason: string }).reason, /result over \d+ bytes/);
    assert.equal(over.got.length, 1, 'the frame that crosses the bound is not passed on');
    assert.equal((await read(frames(100), { ...ASKED, maxBytes: 99 })).outcome.kind, 'failed');
    assert.equal((await read(frames(100), { ...ASKED, maxBytes: 100 })).outcome.kind, 'done');
    const early = await read([DATA, { type: 'meta', body: META }, DATA, { type: 'end', body: END }]);
    assert.equal(early.outcome.kind, 'failed');
    assert.deepEqual(early.got, []);
  });

  it("takes a node's 4xx error frame as the input's, a 413 of a limit the node's settings set as over that node's limits, but 408 (the body came too slowly) as the node's", async () => {
    const error = (status: number, code: string): Frame => ({
      type: 'error',
      body: { status, code, detail: code },
    });
    assert.equal((await read([error(422, 'bad_header')])).outcome.kind, 'rejected');
    assert.deepEqual((await read([error(413, 'work_too_large')])).outcome, {
      kind: 'over_node_limit',
      error: { status: 413, code: 'work_too_large', detail: 'work_too_large' },
    });
    // A limit every node has is the input's fault anywhere.
    assert.equal((await read([error(413, 'too_many_files')])).outcome.kind, 'rejected');
    assert.equal((await read([error(408, 'body_too_slow')])).outcome.kind, 'failed');
    assert.equal((await read([error(500, 'internal')])).outcome.kind, 'failed');
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

describe('readRun: what a node sends is checked before it reaches a header, a job or a charge', () => {
  it("fails a meta frame whose content type is not the format's, or whose warnings could not go into a header", async () => {
    const metas: RunMeta[] = [
      { ...META, content_type: 'image/png' },
      { ...META, content_type: 'application/gzip\r\nSet-Cookie: x=1' },
      { ...META, warnings: ['one\r\ntwo'] },
      { ...META, warnings: ['intensities \u2265 0'] },
      { ...META, warnings: Array.from({ length: 17 }, () => 'a warning') },
      { ...META, warnings: ['x'.repeat(501)] },
      { ...META, warnings: 'a warning' as unknown as string[] },
    ];
    for (const meta of metas) {
      const { outcome, got } = await read([{ type: 'meta', body: meta }, DATA, { type: 'end', body: END }]);
      assert.equal(outcome.kind, 'failed', JSON.stringify(meta));
      assert.deepEqual(got, []);
    }
    const warned = {
      ...META,
      warnings: ['12 of 16 voxels were NaN or infinite and were read as 0 (background).'],
    };
    assert.equal(
      (await read([{ type: 'meta', body: warned }, DATA, { type: 'end', body: END }])).outcome.kind,
      'done',
    );
  });

  it("passes on a progress frame's known fields only, and drops one of another shape", async () => {
    const seen: unknown[] = [];
    const frames: Frame[] = [
      {
        type: 'progress',
        body: { stage: 'predict', done: 1, total: 2, junk: 'x'.repeat(1000) } as RunProgress,
      },
      { type: 'progress', body: { stage: 'exfiltrate', done: 1, total: 2 } as unknown as RunProgress },
      { type: 'progress', body: { stage: 'predict', done: -1, total: 2 } },
      { type: 'progress', body: null as unknown as RunProgress },
      { type: 'meta', body: META },
      DATA,
      { type: 'end', body: END },
    ];
    const outcome = await readRun(
      response(frames),
      { progress: (p) => void seen.push(p), meta: () => {}, data: () => {} },
      ASKED,
    );
    assert.equal(outcome.kind, 'done');
    assert.deepEqual(seen, [{ stage: 'predict', done: 1, total: 2 }]);
  });

  it("fails an end frame too large for a job's state", async () => {
    const stats = Array.from({ length: 2000 }, (_, label) => ({ label, name: 'x'.repeat(40) }));
    const big = { ...END, stats } as unknown as RunEnd;
    const { outcome } = await read([{ type: 'meta', body: META }, DATA, { type: 'end', body: big }]);
    assert.equal(outcome.kind, 'failed');
    assert.match((outcome as { reason: string }).reason, /end frame over/);
  });

  it('passes on an error frame with a token for its code and a bounded detail', async () => {
    const { outcome } = await read([
      { type: 'error', body: { status: 422, code: 'Bad Code\r\n', detail: 'd'.repeat(5000) } },
    ]);
    assert.equal(outcome.kind, 'rejected');
    const { error } = outcome as { error: { code: string; detail: string } };
    assert.equal(error.code, 'node_error');
    assert.equal(error.detail.length, 1000);
  });

  /** A node's answer that sends `first` and then nothing, never ending; `cancelled()` says whether it was cancelled. */
  function stalledAfter(first: Frame) {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => controller.enqueue(encodeFrame(first)),
      cancel: () => void (cancelled = true),
    });
    const sink = { progress: () => {}, meta: () => {}, data: () => {} };
    return {
      read: (idleMs?: number) => readRun(new Response(stream), sink, ASKED, idleMs),
      cancelled: () => cancelled,
    };
  }

  it('gives up on a stream that goes silent, and cancels it so that the node stops its run', async () => {
    const node = stalledAfter({ type: 'meta', body: META });
    const outcome = await node.read(100);
    assert.equal(outcome.kind, 'failed');
    assert.match((outcome as { reason: string }).reason, /no frame bytes for 100 ms/);
    assert.ok(node.cancelled(), 'the stream was cancelled');
  });

  it('cancels the stream of a run it refuses midway', async () => {
    const node = stalledAfter({ type: 'meta', body: { ...META, shape: [9, 9, 9], voxels: 729 } });
    assert.equal((await node.read()).kind, 'failed');
    assert.ok(node.cancelled(), 'the stream was cancelled');
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
after(() => {
  for (const s of servers) s.closeAllConnections();
  return Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

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

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A node that reads the request and never answers it (a black-holed or hung node). */
function silentNode(): Promise<string> {
  return listen(createServer((req) => req.resume()));
}

/** A node whose 503 has an endless body; `written()` is how many bytes it got out before it was cut off. */
async function floodingNode(): Promise<{ url: string; written: () => number }> {
  let sent = { written: () => 0 };
  const url = await listen(
    createServer((req, res) => {
      req.resume();
      res.writeHead(503, { 'retry-after': '2', 'content-type': 'text/html' });
      sent = flood(res, '<html>');
    }),
  );
  return { url, written: () => sent.written() };
}

describe('startRun', () => {
  const run = (node: string, answerMs?: number) =>
    startRun(
      node,
      { model: 'brain-wm-2d@2.0.0', format: 'nifti', requestId: 'r' },
      new Uint8Array([1]),
      undefined,
      new AbortController().signal,
      answerMs,
    );

  it('fails a node that does not answer in time, so that the next node is tried', async () => {
    const started = Date.now();
    const outcome = await run(await silentNode(), 200);
    assert.deepEqual(outcome, { kind: 'failed', reason: 'no answer within 200 ms' });
    assert.ok(Date.now() - started < 5000);
  });

  it('does not wait past the answer timeout for the body of a refusal that stalls', async () => {
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(503, { 'retry-after': '2', 'content-type': 'text/plain' });
      res.write('busy'); // and never ends
    });
    const started = Date.now();
    assert.deepEqual(await run(await listen(server), 200), { kind: 'saturated', retryAfterSeconds: 2 });
    assert.ok(Date.now() - started < 5000);
  });

  it('reads no more than a bounded part of an answer that is not a frame stream', async () => {
    const node = await floodingNode();
    assert.deepEqual(await run(node.url), { kind: 'saturated', retryAfterSeconds: 2 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    // What the socket buffers hold beyond the cap, not the 256 MiB the node would send.
    assert.ok(
      node.written() < 32 * 2 ** 20,
      `${node.written()} bytes written, the cap is ${MAX_NODE_ERROR_BYTES}`,
    );
  });

  it("takes a node's model_not_found as that node's gap and a 413 of its settings' limits as over them (try another), other 4xx as the input's", async () => {
    const lacking = await run(await refusingNode(404, 'model_not_found'));
    assert.equal(lacking.kind, 'failed');
    assert.match((lacking as { reason: string }).reason, /lacks the release/);
    assert.deepEqual(await run(await refusingNode(413, 'input_too_large')), {
      kind: 'over_node_limit',
      error: { status: 413, code: 'input_too_large', detail: 'a input_too_large' },
    });
    assert.equal((await run(await refusingNode(413, 'jpeg_too_many_scans'))).kind, 'rejected');
    const refused = await run(await refusingNode(422, 'invalid_input'));
    assert.deepEqual(refused, {
      kind: 'rejected',
      error: { status: 422, code: 'invalid_input', detail: 'a invalid_input' },
    });
  });
});
