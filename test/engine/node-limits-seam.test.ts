// The seam's 413s, read by the Worker from real nodes: every limit a node's settings set
// (engine/protocol/node-limits.ts) reaches the Worker as "over that node's limits", so that another
// node is tried, and a limit every node has stays the input's answer. Each node below is tight on one
// setting; the body is a real slice. A node that threw one of these limits under another code, or a
// code list that lost one, would fail here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { encode as encodePng } from 'fast-png';
import { zipSync } from 'fflate';
import jpeg from 'jpeg-js';
import { NODE_LIMIT_CODES, type NodeLimitCode } from '../../engine/edge.js';
import { DEFAULT_MODELS_DIR } from '../../engine/cli/models-root.js';
import { startNode, type RunningNode } from '../../engine/server/serve.js';
import { SHARED_DATA } from '../support/goldens.js';
import { readRun, startRun } from '../../worker/nodes/remote-run.js';

const SLICE = new Uint8Array(readFileSync(`${SHARED_DATA}fixtures/mr-aniso/BrainT1Slice.png`));
const MODEL = 'brain-wm-2d';

/** One node per settings limit, tight enough that the slice (181 x 217, 42619 bytes) is over it. */
const TIGHT: Record<NodeLimitCode, Partial<Parameters<typeof startNode>[0]>> = {
  input_too_large: { limits: { maxInputBytes: 1000 } },
  decompressed_too_large: { limits: { maxDecompressedBytes: 1000 } },
  too_many_voxels: { limits: { maxVoxels: 1000 } },
  dimension_too_large: { limits: { maxDimension: 100 } },
  work_too_large: { work: { maxPeakBytes: 1 << 20 } },
};

const nodes = new Map<string, RunningNode>();
/** A node whose decompression limit (16 MiB) passes a 1200 x 1200 JPEG's 4 bytes a pixel but not jpeg-js's own need. */
let jpeg16: RunningNode;

before(async () => {
  for (const [code, options] of Object.entries(TIGHT)) {
    nodes.set(
      code,
      await startNode({ port: 0, modelsDir: DEFAULT_MODELS_DIR, concurrency: 1, queue: 1, ...options }),
    );
  }
  jpeg16 = await startNode({
    port: 0,
    modelsDir: DEFAULT_MODELS_DIR,
    concurrency: 1,
    queue: 1,
    limits: { maxDecompressedBytes: 16 * 2 ** 20 },
  });
});

after(async () => {
  await Promise.all([...nodes.values(), jpeg16].map((n) => n.close()));
});

/** What the Worker makes of `node`'s answer to `body`: the outcome's kind and its problem code. */
async function outcomeOf(
  node: RunningNode,
  body: Uint8Array<ArrayBuffer>,
): Promise<{ kind: string; code?: string }> {
  const request = { model: MODEL, format: 'png' as const, tta: false, requestId: 'limits-test' };
  const start = await startRun(node.url, request, body, undefined, AbortSignal.timeout(60_000));
  if (start.kind === 'over_node_limit' || start.kind === 'rejected') {
    return { kind: start.kind, code: start.error.code };
  }
  assert.equal(start.kind, 'started', JSON.stringify(start));
  if (start.kind !== 'started') throw new Error('unreachable');
  const outcome = await readRun(
    start.response,
    { progress: () => {}, meta: () => {}, data: () => {} },
    { id: MODEL, version: 'any', format: 'png', shape: null, maxVoxels: 1e9 },
  );
  return outcome.kind === 'over_node_limit' || outcome.kind === 'rejected'
    ? { kind: outcome.kind, code: outcome.error.code }
    : { kind: outcome.kind };
}

describe("a node's 413s as the Worker reads them", () => {
  it('takes every limit a setting sets as over that node only, under the code the list names', async () => {
    assert.deepEqual(
      Object.keys(TIGHT).sort(),
      Object.values(NODE_LIMIT_CODES).sort(),
      'every settings limit has a node here',
    );
    for (const [code, node] of nodes) {
      assert.deepEqual(
        await outcomeOf(node, SLICE),
        { kind: 'over_node_limit', code },
        `node tight on ${code}`,
      );
    }
  });

  it("takes jpeg-js's own memory cap, which the decompression limit sets, as over that node only", async () => {
    const size = 1200;
    const rgba = new Uint8Array(size * size * 4).map((_, i) => (i * 7) & 255);
    const jpg = new Uint8Array(jpeg.encode({ data: rgba, width: size, height: size }, 90).data);
    assert.deepEqual(await outcomeOf(jpeg16, jpg), {
      kind: 'over_node_limit',
      code: NODE_LIMIT_CODES.decompressedBytes,
    });
  });

  it("keeps a limit every node has (a zip of more files than any node reads) as the input's answer", async () => {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i <= 10_000; i++) files[`s${i}.dcm`] = new Uint8Array(1);
    const zip = new Uint8Array(zipSync(files, { level: 0 }));
    // The node with the widest read limits: only its fixed ones can refuse the zip.
    assert.deepEqual(await outcomeOf(nodes.get(NODE_LIMIT_CODES.work)!, zip), {
      kind: 'rejected',
      code: 'too_many_files',
    });
    // A PNG whose pixel data inflates past what its own header implies is damaged on any node, though
    // the inflater that stops it is the one the decompression limit uses.
    const bomb = encodePng({ width: 500, height: 500, data: new Uint8Array(250_000), depth: 8, channels: 1 });
    const view = new DataView(bomb.buffer, bomb.byteOffset);
    view.setUint32(16, 10);
    view.setUint32(20, 10);
    assert.deepEqual(await outcomeOf(nodes.get(NODE_LIMIT_CODES.work)!, new Uint8Array(bomb)), {
      kind: 'rejected',
      code: 'png_corrupt',
    });
  });
});
