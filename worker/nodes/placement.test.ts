import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { HEALTH_TIMEOUT_MS, MAX_HEALTH_BYTES, rankNodes } from './placement.js';
import { flood } from '../../test/support/flood.js';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.closeAllConnections();
  return Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A node whose `/healthz` answers `status` with `body`; `seen` collects the request headers. */
async function node(body: unknown, status = 200, seen: IncomingHttpHeaders[] = []): Promise<string> {
  const server = createServer((req, res) => {
    seen.push(req.headers);
    if (req.url !== '/healthz') return void res.writeHead(404).end();
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
  return listen(server);
}

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const load = (running: number, queued = 0, concurrency = 4, queue = 4) => ({
  status: 'ok',
  running,
  queued,
  concurrency,
  queue,
});

describe('rankNodes', () => {
  it('orders healthy nodes least loaded first, queue capacity included', async () => {
    const half = await node(load(2, 2)); // 4 of 8
    const idle = await node(load(0));
    const full = await node(load(2, 0, 2, 0)); // 2 of 2
    const light = await node(load(1, 1, 2, 6)); // 2 of 8
    assert.deepEqual(await rankNodes([half, idle, full, light], undefined), [idle, light, half, full]);
  });

  it('keeps the configured order between equally loaded nodes', async () => {
    const a = await node(load(1));
    const b = await node(load(1));
    const c = await node(load(2, 0, 16, 0)); // 1/8, as a and b
    assert.deepEqual(await rankNodes([b, c, a], undefined), [b, c, a]);
    assert.deepEqual(await rankNodes([a, b, c], undefined), [a, b, c]);
  });

  it('puts nodes that are down, failing or not ok after the healthy ones, in the configured order', async () => {
    const refused = await listen(createServer());
    servers.pop()?.close();
    const failing = await node({ error: 'x' }, 500);
    const draining = await node({ ...load(0), status: 'draining' });
    const garbled = await node('{"status": "ok", ');
    const healthy = await node(load(3));
    assert.deepEqual(await rankNodes([refused, failing, draining, garbled, healthy], undefined), [
      healthy,
      refused,
      failing,
      draining,
      garbled,
    ]);
  });

  it('reads no more of a health answer than its bound: a flooding node is not healthy', async () => {
    let sent = { written: () => 0 };
    const flooding = await listen(
      createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        sent = flood(res, JSON.stringify(load(0)).slice(0, -1) + ', "pad": "');
      }),
    );
    const healthy = await node(load(3));
    assert.deepEqual(await rankNodes([flooding, healthy], undefined), [healthy, flooding]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(
      sent.written() < 32 * 2 ** 20,
      `${sent.written()} bytes written, the bound is ${MAX_HEALTH_BYTES}`,
    );
  });

  it('does not take an ok without load counts for an idle node', async () => {
    const countless = await node({ status: 'ok' });
    const negative = await node(load(-5));
    const busy = await node(load(4, 4));
    assert.deepEqual(await rankNodes([countless, negative, busy], undefined), [busy, countless, negative]);
  });

  it('ranks a node that does not answer in time last, after waiting at most the health timeout', async () => {
    const silent = createServer(() => {}); // accepts, never answers
    const slow = await listen(silent);
    const quick = await node(load(4, 4));
    const start = Date.now();
    assert.deepEqual(await rankNodes([slow, quick], undefined), [quick, slow]);
    const waited = Date.now() - start;
    assert.ok(waited >= HEALTH_TIMEOUT_MS - 50 && waited < HEALTH_TIMEOUT_MS + 1500, `${waited} ms`);
  });

  it("sends the nodes' bearer token when there is one, and no Authorization otherwise", async () => {
    const seen: IncomingHttpHeaders[] = [];
    const n = await node(load(0), 200, seen);
    await rankNodes([n], 'tok');
    await rankNodes([n], undefined);
    assert.deepEqual(
      seen.map((h) => h.authorization),
      ['Bearer tok', undefined],
    );
  });

  it('leaves out a node that lists its releases without the one asked; keeps one that does not list them', async () => {
    const behind = await node({ ...load(0), releases: ['brain-wm-2d@1.2.0'] });
    const current = await node({ ...load(2), releases: ['brain-wm-2d@2.0.0', 'brain-wm-2d@1.2.0'] });
    const older = await node(load(1)); // before /healthz listed releases: may hold any
    const release = { id: 'brain-wm-2d', version: '2.0.0' };
    assert.deepEqual(await rankNodes([behind, current, older], undefined, { release }), [older, current]);
    assert.deepEqual(
      await rankNodes([behind, current, older], undefined, { release: { ...release, version: '1.2.0' } }),
      [behind, older, current],
    );
    // Without a release to run, every healthy node counts.
    assert.deepEqual(await rankNodes([behind, current, older], undefined), [behind, older, current]);
  });

  it('answers nothing for no nodes', async () => {
    assert.deepEqual(await rankNodes([], undefined), []);
  });
});
