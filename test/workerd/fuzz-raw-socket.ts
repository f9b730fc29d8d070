/**
 * Raw TCP abuse of the Worker's listening port (loopback only): garbage request lines, pipelined
 * junk, slowloris headers closed early, bodies cut mid-way, Content-Length and chunked-encoding lies.
 */
import { connect } from 'node:net';
import { ProbeList, type FuzzContext, type RawScript } from './fuzz-probe.js';
import type { RandomTools } from './fuzz-inputs.js';

/** What came back on a raw connection. */
export interface RawOutcome {
  /** Every response read (pipelining may give several), each from its status line on. */
  responses: string[];
  /** The connection was neither answered nor closed within the timeout. */
  hung: boolean;
}

/** Runs `script` against 127.0.0.1:`port`; never longer than `timeoutMs`. */
export function runRaw(port: number, script: RawScript, timeoutMs: number): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (hung: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const responses = text.split(/(?=HTTP\/1\.[01] \d{3} )/).filter((r) => /^HTTP\/1\.[01] \d{3} /.test(r));
      resolve({ responses, hung });
    };
    const timer = setTimeout(() => finish(script.end !== 'abort'), timeoutMs);
    socket.on('data', (b: Buffer) => {
      chunks.push(b);
      // With the connection kept open, the first complete answer ends the probe.
      if (script.end === 'read-open' && /\r\n\r\n/.test(Buffer.concat(chunks).toString('latin1'))) {
        setTimeout(() => finish(false), 50);
      }
    });
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
    socket.on('connect', async () => {
      for (const w of script.writes) {
        if (done) return;
        if (typeof w === 'object' && 'pauseMs' in w) await new Promise((res) => setTimeout(res, w.pauseMs));
        else socket.write(w);
      }
      if (script.end === 'abort') {
        await new Promise((res) => setTimeout(res, 20));
        finish(false);
      } else if (script.end === 'read') socket.end();
    });
  });
}

const CRLF = '\r\n';
const head = (lines: string[]) => lines.join(CRLF) + CRLF + CRLF;

/** Adds the raw-socket category to `list`. */
export function rawProbes(list: ProbeList, r: RandomTools): void {
  const raw = (what: string, script: (ctx: FuzzContext, rid: string) => RawScript) => {
    const id = list.probes.length;
    list.add('raw-socket', what, { kind: 'raw', script: (ctx) => script(ctx, `fuzz-raw-${id}`) });
  };
  const garbage = [
    'GET\r\n\r\n',
    'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
    'get /healthz http/1.1\r\nHost: x\r\n\r\n',
    '\x00\x01\x02\x03\r\n\r\n',
    'TRACE / HTTP/1.1\r\nHost: x\r\n\r\n',
    'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n',
    `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    'GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHeader\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n',
    'GET /healthz HTTP/1.1\nHost: x\n\n',
    `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(200_000)}\r\n\r\n`,
    `GET /healthz HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 2000 }, (_, i) => `X-${i}: v`).join('\r\n')}\r\n\r\n`,
    'POST /v1/segment?model=brain-wm-2d HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
    'POST /v1/segment?model=brain-wm-2d HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
    'POST /v1/segment?model=brain-wm-2d HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\nx',
    'POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}',
    'POST /v1/uploads HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    'POST /v1/uploads HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n{}\r\n',
    'POST /v1/uploads HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\x01b\r\n\r\n',
  ];
  for (const g of garbage) {
    raw(`garbage: ${JSON.stringify(g.slice(0, 60))}`, () => ({ writes: [g], end: 'read' }));
  }
  for (let n = 0; n < 10; n++) {
    const junk = r.bytes(r.pick([1, 64, 4096]));
    raw(`${junk.byteLength} random bytes`, () => ({ writes: [junk], end: 'read' }));
  }
  // Pipelining: a valid request, then junk on the same connection.
  for (let n = 0; n < 6; n++) {
    const tail = r.pick([
      'GARBAGE\r\n\r\n',
      'GET /healthz HTTP/1.1\r\n\r\n',
      '\x16\x03\x01\x00',
      'POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab',
    ]);
    raw(`GET /healthz then pipelined ${JSON.stringify(tail.slice(0, 20))}`, (_ctx, rid) => ({
      writes: [head(['GET /healthz HTTP/1.1', 'Host: x', `X-Request-Id: ${rid}`]) + tail],
      end: 'read',
    }));
  }
  // Slowloris: headers dribbled out, then the client leaves.
  for (let n = 0; n < 6; n++) {
    const route = r.pick([
      'POST /v1/uploads',
      'GET /v1/usage',
      'POST /v1/segment?model=brain-wm-2d',
      'PATCH /v1/uploads/x',
    ]);
    raw(`slowloris ${route}: partial headers over 600 ms, then closed`, (ctx, rid) => ({
      writes: [
        `${route} HTTP/1.1\r\nHost: x\r\n`,
        { pauseMs: 200 },
        `X-Request-Id: ${rid}\r\nAuthorization: Bearer ${ctx.key}\r\n`,
        { pauseMs: 200 },
        'Content-Ty',
        { pauseMs: 200 },
      ],
      end: 'abort',
    }));
  }
  // Bodies cut mid-way: the client vanishes, or half-closes and waits for an answer.
  const bodies: [string, string, (ctx: FuzzContext) => string[]][] = [
    ['POST /v1/segment?model=brain-wm-2d', 'application/octet-stream', () => []],
    ['POST /v1/uploads', 'application/json', () => []],
    ['POST /v1/jobs', 'application/json', () => []],
    [
      'PATCH /v1/uploads/{empty}',
      'application/offset+octet-stream',
      () => ['Upload-Offset: 0', `Upload-Checksum: sha256 ${'A'.repeat(43)}=`],
    ],
  ];
  for (let n = 0; n < 16; n++) {
    const [route, type, extra] = r.pick(bodies);
    const declared = r.pick([100, 65_536, 1_048_576]);
    const sent = Math.floor(declared * r.pick([0, 0.1, 0.5, 0.99]));
    const end = r.pick(['abort', 'read'] as const);
    raw(
      `${route} Content-Length ${declared}, ${sent} bytes sent, then ${end === 'abort' ? 'reset' : 'half-closed'}`,
      (ctx, rid) => ({
        writes: [
          head([
            `${route.replace('{empty}', ctx.emptyUpload)} HTTP/1.1`,
            'Host: x',
            `Authorization: Bearer ${ctx.key}`,
            `Content-Type: ${type}`,
            `Content-Length: ${declared}`,
            `X-Request-Id: ${rid}`,
            ...extra(ctx),
          ]),
          new Uint8Array(sent).fill(0x7b),
          { pauseMs: 50 },
        ],
        end,
      }),
    );
  }
  // A declared body over the 32 MiB cap: refused from Content-Length, before it arrives.
  raw('POST /v1/segment declaring 33 MiB, 64 KiB sent, connection left open', (ctx, rid) => ({
    writes: [
      head([
        'POST /v1/segment?model=brain-wm-2d HTTP/1.1',
        'Host: x',
        `Authorization: Bearer ${ctx.key}`,
        'Content-Type: application/octet-stream',
        `Content-Length: ${33 * 2 ** 20}`,
        `X-Request-Id: ${rid}`,
      ]),
      new Uint8Array(65_536),
    ],
    end: 'read-open',
  }));
  // Content-Length shorter than the body: the rest is read as the next request.
  for (let n = 0; n < 4; n++) {
    raw('POST /v1/uploads with Content-Length shorter than the body (smuggled junk)', (ctx, rid) => ({
      writes: [
        head([
          'POST /v1/uploads HTTP/1.1',
          'Host: x',
          `Authorization: Bearer ${ctx.key}`,
          'Content-Type: application/json',
          'Content-Length: 2',
          `X-Request-Id: ${rid}`,
        ]) +
          '{}GET /v1/usage HTTP/1.1\r\nHost: x\r\n\r\n' +
          r.pick(['', 'junk', '\r\n\r\n\r\n']),
      ],
      end: 'read',
    }));
  }
  // Chunked bodies broken mid-stream.
  for (const chunked of [
    '5\r\nab',
    'zz\r\n',
    '3\r\nabc\r\n',
    '1;ext=' + 'x'.repeat(10_000) + '\r\na\r\n0\r\n\r\n',
  ]) {
    raw(`POST /v1/segment chunked ${JSON.stringify(chunked.slice(0, 20))}, then half-closed`, (ctx, rid) => ({
      writes: [
        head([
          'POST /v1/segment?model=brain-wm-2d HTTP/1.1',
          'Host: x',
          `Authorization: Bearer ${ctx.key}`,
          'Content-Type: application/octet-stream',
          'Transfer-Encoding: chunked',
          `X-Request-Id: ${rid}`,
        ]) + chunked,
      ],
      end: 'read',
    }));
  }
}
