// The wire format: every frame kind survives encode → decode, also when the stream arrives split at
// every possible byte boundary, and a stream cut inside a frame is an error, not a short result.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { concatBytes } from './bytes.js';
import { decodeFrames, encodeFrame, FrameStreamError, MAX_FRAME_PAYLOAD, type Frame } from './frames.js';

const FRAMES: Frame[] = [
  { type: 'progress', body: { stage: 'queued', done: 0, total: 1 } },
  { type: 'progress', body: { stage: 'predict', done: 3, total: 7 } },
  { type: 'meta', body: { content_type: 'application/gzip', shape: [4, 5, 6], voxels: 120 } },
  { type: 'data', body: Uint8Array.from({ length: 1000 }, (_, i) => (i * 37) & 255) },
  { type: 'data', body: new Uint8Array(0) },
  {
    type: 'end',
    body: {
      bytes: 1000,
      stats: [
        { label: 1, name: 'wm', voxels: 9, volume_ml: 0.009, bbox: { start: [0, 0, 0], end: [3, 3, 1] } },
      ],
      runtime: { provider: 'cpu', threads: 1 },
      timings_ms: { total: 12, model: 8, queued: 0 },
    },
  },
  { type: 'error', body: { status: 422, code: 'png_needs_2d', detail: 'ünïcode ✓' } },
];

function streamOf(bytes: Uint8Array, cuts: number[]): ReadableStream<Uint8Array> {
  const points = [0, ...cuts, bytes.byteLength];
  return new ReadableStream({
    start(controller) {
      for (let i = 1; i < points.length; i++) controller.enqueue(bytes.slice(points[i - 1], points[i]));
      controller.close();
    },
  });
}

async function decodeAll(stream: ReadableStream<Uint8Array>): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of decodeFrames(stream)) out.push(f);
  return out;
}

const wire = (frames: Frame[]): Uint8Array => concatBytes(frames.map(encodeFrame));

test('every frame kind round-trips in one chunk', async () => {
  assert.deepEqual(await decodeAll(streamOf(wire(FRAMES), [])), FRAMES);
});

test('a stream split at any byte boundary decodes the same', async () => {
  const bytes = wire(FRAMES);
  for (let cut = 1; cut < bytes.byteLength; cut++) {
    assert.deepEqual(await decodeAll(streamOf(bytes, [cut])), FRAMES, `cut at ${cut}`);
  }
  const oneByOne = Array.from({ length: bytes.byteLength - 1 }, (_, i) => i + 1);
  assert.deepEqual(await decodeAll(streamOf(bytes, oneByOne)), FRAMES);
});

test('a truncated stream is a FrameStreamError', async () => {
  const bytes = wire(FRAMES);
  for (const cut of [1, 4, 5, 20, bytes.byteLength - 1]) {
    await assert.rejects(decodeAll(streamOf(bytes.subarray(0, cut), [])), FrameStreamError, `cut at ${cut}`);
  }
});

test('an unknown frame type or an oversized length is a FrameStreamError; big payloads are refused', async () => {
  const bad = encodeFrame(FRAMES[0]);
  bad[0] = 9;
  await assert.rejects(decodeAll(streamOf(bad, [])), FrameStreamError);
  const huge = new Uint8Array(5);
  huge[0] = 3;
  new DataView(huge.buffer).setUint32(1, MAX_FRAME_PAYLOAD + 1);
  await assert.rejects(decodeAll(streamOf(huge, [])), FrameStreamError);
  assert.throws(() => encodeFrame({ type: 'data', body: new Uint8Array(MAX_FRAME_PAYLOAD + 1) }), RangeError);
});

test('a full-size data frame arriving in 64 KiB reads, then a small frame in the same read, decode whole', async () => {
  const big: Frame = {
    type: 'data',
    body: Uint8Array.from({ length: MAX_FRAME_PAYLOAD }, (_, i) => (i * 131) & 255),
  };
  const frames = [big, FRAMES[0]];
  const bytes = wire(frames);
  const cuts = [];
  for (let at = 65_536; at < bytes.byteLength; at += 65_536) cuts.push(at);
  assert.deepEqual(await decodeAll(streamOf(bytes, cuts)), frames);
});
