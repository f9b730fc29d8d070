/**
 * Malformed API requests for the fuzzer (no model runs): odd headers, unknown routes, broken
 * upload, job and usage requests, bad Range headers and bad one-shot requests refused before work.
 */
import { createHash } from 'node:crypto';
import { bearer, ProbeList, type FuzzContext } from './fuzz-probe.js';
import type { RandomTools } from './fuzz-inputs.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const CHUNK_TYPE = { 'content-type': 'application/offset+octet-stream' };
const checksum = (b: Uint8Array) => `sha256 ${createHash('sha256').update(b).digest('base64')}`;

const BAD_UUIDS = [
  'not-a-uuid',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '%00',
  '..%2f..%2fusage',
  'a'.repeat(2000),
  '12345678-1234-1234-1234-1234567890abc',
  '{{id}}%20',
  '%F0%9F%92%A9',
  '-1',
];

const JUNK_JSON = [
  '',
  '{',
  '[]',
  'null',
  '"x"',
  '1e999',
  '{"length":}',
  "{'length': 1}",
  '{"length": 1,}',
  '\u0000\u0001',
  '{"__proto__": {"length": 1}}',
  '['.repeat(5000) + ']'.repeat(5000),
  `{"a":"${'x'.repeat(200_000)}"}`,
];

/** Adds the light categories to `list`. */
export function lightProbes(list: ProbeList, r: RandomTools): void {
  headerProbes(list, r);
  routeProbes(list, r);
  uploadProbes(list, r);
  jobProbes(list, r);
  rangeProbes(list, r);
  usageProbes(list, r);
  segmentRefusals(list, r);
}

function headerProbes(list: ProbeList, r: RandomTools): void {
  const c = 'headers';
  const routes: [string, string][] = [
    ['GET', '/v1/usage'],
    ['POST', '/v1/uploads'],
    ['GET', '/v1/jobs/{done}'],
    ['POST', '/v1/segment?model=brain-wm-2d'],
    ['GET', '/v1/models'],
  ];
  const auths: [string, (ctx: FuzzContext) => Record<string, string>][] = [
    ['no Authorization', () => ({})],
    ['Authorization: Bearer (no key)', () => ({ authorization: 'Bearer' })],
    ['Authorization: Basic', () => ({ authorization: 'Basic dXNlcjpwYXNz' })],
    ['Bearer junk key', () => bearer('nsk_live_0000.not-a-key')],
    ['Bearer 16 KiB key', () => bearer('k'.repeat(16_384))],
    ['Bearer key with latin-1 bytes', () => bearer('\u00ff\u00fe\u00e9')],
    ['Bearer key twice', (ctx) => ({ authorization: `Bearer ${ctx.key} Bearer ${ctx.key}` })],
    ['key of the usage-only scope', (ctx) => bearer(ctx.usageOnlyKey)],
    [
      'key with a flipped last character',
      (ctx) => bearer(ctx.key.slice(0, -1) + (ctx.key.endsWith('A') ? 'B' : 'A')),
    ],
    ['key truncated by half', (ctx) => bearer(ctx.key.slice(0, ctx.key.length >> 1))],
  ];
  for (const [label, auth] of auths) {
    const [method, path] = r.pick(routes);
    list.http(c, label, (ctx) => ({
      method,
      path: path.replace('{done}', ctx.doneJob),
      headers: { ...auth(ctx), ...JSON_TYPE },
      body: method === 'POST' ? '{}' : undefined,
    }));
  }
  const odd: [string, (ctx: FuzzContext) => Record<string, string>][] = [
    ['X-Request-Id of 10 KiB', () => ({ 'x-request-id': 'r'.repeat(10_240) })],
    ['X-Request-Id with spaces and quotes', () => ({ 'x-request-id': 'a b "c" <d>' })],
    ['a 32 KiB custom header', () => ({ 'x-junk': 'j'.repeat(32_768) })],
    ['200 custom headers', () => Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-h${i}`, 'v']))],
    ['Accept: */*;q=0', () => ({ accept: '*/*;q=0' })],
    ['Accept: text/html', () => ({ accept: 'text/html' })],
    ['Accept of 8 KiB', () => ({ accept: 'application/json;q=0.1,'.repeat(350) })],
    ['Accept: ,,,;;;', () => ({ accept: ',,,;;;' })],
    ['Accept: text/csv;q=abc', () => ({ accept: 'text/csv;q=abc' })],
    ['Idempotency-Key of 256 chars', () => ({ 'idempotency-key': 'i'.repeat(256) })],
    ['Idempotency-Key with a space', () => ({ 'idempotency-key': 'a b' })],
    ['Idempotency-Key latin-1', () => ({ 'idempotency-key': '\u00e9\u00e8' })],
    ['Idempotency-Key formula', () => ({ 'idempotency-key': '=HYPERLINK("http://x")' })],
    ['Content-Type: multipart/form-data without boundary', () => ({ 'content-type': 'multipart/form-data' })],
    ['Content-Type of 4 KiB', () => ({ 'content-type': `application/json;${'x=y;'.repeat(1000)}` })],
    ['Content-Encoding: gzip on a plain body', () => ({ 'content-encoding': 'gzip' })],
    ['Content-Encoding: br, deflate, gzip', () => ({ 'content-encoding': 'br, deflate, gzip' })],
    [
      'Transfer-Encoding-like header x-http-method-override: DELETE',
      () => ({ 'x-http-method-override': 'DELETE' }),
    ],
    [
      'Host: evil.example',
      () => ({ 'x-forwarded-host': 'evil.example', forwarded: 'for=1.2.3.4;host=evil' }),
    ],
    ['Range on a POST', () => ({ range: 'bytes=0-0' })],
  ];
  for (const [label, extra] of odd) {
    for (let n = 0; n < 3; n++) {
      const [method, path] = r.pick(routes);
      list.http(c, `${label} on ${method} ${path.split('?')[0]}`, (ctx) => ({
        method,
        path: path.replace('{done}', ctx.doneJob),
        headers: { ...bearer(ctx.key), ...JSON_TYPE, ...extra(ctx) },
        body: method === 'POST' ? '{"length":1}' : undefined,
      }));
    }
  }
}

function routeProbes(list: ProbeList, r: RandomTools): void {
  const c = 'routes';
  const paths = [
    '/',
    '/v1',
    '/v1/',
    '/v2/segment',
    '/v1//uploads',
    '/v1/uploads/',
    '/v1/uploads/../usage',
    '/v1/%2e%2e/healthz',
    '/healthz%00',
    '/healthz?x=' + '%'.repeat(50),
    '/v1/jobs/%ZZ',
    '/' + 'a/'.repeat(3000),
    '/openapi.json/../../etc/passwd',
    '/v1/models/%F0%9F%92%A9',
    '/v1/jobs//result',
  ];
  for (const path of paths) {
    list.http(c, `GET ${path.slice(0, 60)}`, (ctx) => ({ method: 'GET', path, headers: bearer(ctx.key) }));
  }
  const methods = ['PUT', 'DELETE', 'OPTIONS', 'PATCH', 'PROPFIND', 'POST'];
  for (const path of ['/healthz', '/v1/usage', '/v1/segment', '/v1/uploads', '/v1/jobs', '/openapi.json']) {
    for (let n = 0; n < 2; n++) {
      const method = r.pick(methods);
      list.http(c, `${method} ${path}`, (ctx) => ({
        method,
        path,
        headers: { ...bearer(ctx.key), ...JSON_TYPE },
        body: ['PUT', 'PATCH', 'POST', 'PROPFIND'].includes(method) ? '{}' : undefined,
      }));
    }
  }
}

function uploadProbes(list: ProbeList, r: RandomTools): void {
  const c = 'uploads';
  const post = (what: string, body: string) =>
    list.http(c, `POST /v1/uploads ${what}`, (ctx) => ({
      method: 'POST',
      path: '/v1/uploads',
      headers: { ...bearer(ctx.key), ...JSON_TYPE },
      body,
    }));
  for (const junk of JUNK_JSON) post(`body ${JSON.stringify(junk.slice(0, 30))}`, junk);
  const good = { length: 1024, content_type: 'application/gzip', sha256: 'a'.repeat(64) };
  const fields: Record<string, unknown[]> = {
    length: ['10', -1, 0, 1.5, 1e308, 2 ** 53, 2 ** 31, null, [], { n: 1 }, true, 'NaN', 2 ** 63],
    content_type: ['', 'a', '../../x/y', 'a/'.repeat(500), 5, null, 'image/png\r\nx: y', 'x/y; z'],
    sha256: ['A'.repeat(64), 'a'.repeat(63), 'g'.repeat(64), '', 0, 'a'.repeat(6400)],
  };
  for (let n = 0; n < 30; n++) {
    const field = r.pick(Object.keys(fields));
    const value = r.pick(fields[field]);
    const body = { ...good, [field]: value } as Record<string, unknown>;
    if (r.int(5) === 0) delete body[r.pick(Object.keys(good))];
    if (r.int(5) === 0) body[`extra${n}`] = 'x'.repeat(r.pick([1, 1000]));
    post(`${field}=${JSON.stringify(value)?.slice(0, 40)}`, JSON.stringify(body));
  }
  list.http(c, 'POST /v1/uploads as text/plain', (ctx) => ({
    method: 'POST',
    path: '/v1/uploads',
    headers: { ...bearer(ctx.key), 'content-type': 'text/plain' },
    body: JSON.stringify(good),
  }));

  const chunk = new Uint8Array(256).fill(7);
  const patch = (
    what: string,
    spec: (ctx: FuzzContext) => { id: string; h: Record<string, string>; body?: Uint8Array },
  ) =>
    list.http(c, `PATCH ${what}`, (ctx) => {
      const { id, h, body } = spec(ctx);
      return { method: 'PATCH', path: `/v1/uploads/${id}`, headers: { ...bearer(ctx.key), ...h }, body };
    });
  const offsets = ['-1', '1e20', 'abc', '99999999999999999', '0x10', ' 0', '1024', '1280', '511', '', '0.5'];
  for (const off of offsets) {
    patch(`Upload-Offset ${JSON.stringify(off)}`, (ctx) => ({
      id: ctx.halfUpload,
      h: { ...CHUNK_TYPE, 'upload-offset': off, 'upload-checksum': checksum(chunk) },
      body: chunk,
    }));
  }
  const sums = [
    'sha256 ',
    'md5 AAAA',
    'sha256 !!!',
    'sha256',
    `sha256 ${'A'.repeat(43)}=`,
    'sha256 AA==',
    checksum(new Uint8Array(1)),
  ];
  for (const sum of sums) {
    patch(`Upload-Checksum ${JSON.stringify(sum)}`, (ctx) => ({
      id: ctx.emptyUpload,
      h: { ...CHUNK_TYPE, 'upload-offset': '0', 'upload-checksum': sum },
      body: chunk,
    }));
  }
  const big = new Uint8Array(2048).fill(1);
  patch('a chunk past the declared length', (ctx) => ({
    id: ctx.halfUpload,
    h: { ...CHUNK_TYPE, 'upload-offset': '512', 'upload-checksum': checksum(big) },
    body: big,
  }));
  patch('an empty chunk', (ctx) => ({
    id: ctx.emptyUpload,
    h: { ...CHUNK_TYPE, 'upload-offset': '0', 'upload-checksum': checksum(new Uint8Array(0)) },
    body: new Uint8Array(0),
  }));
  patch('as application/json', (ctx) => ({
    id: ctx.emptyUpload,
    h: { ...JSON_TYPE, 'upload-offset': '0', 'upload-checksum': checksum(chunk) },
    body: chunk,
  }));
  patch('without Upload-Offset', (ctx) => ({
    id: ctx.emptyUpload,
    h: { ...CHUNK_TYPE, 'upload-checksum': checksum(chunk) },
    body: chunk,
  }));
  patch("to the other tenant's upload", (ctx) => ({
    id: ctx.otherUpload,
    h: { ...CHUNK_TYPE, 'upload-offset': '0', 'upload-checksum': checksum(chunk) },
    body: chunk,
  }));
  patch('to a complete upload', (ctx) => ({
    id: ctx.completeUpload,
    h: { ...CHUNK_TYPE, 'upload-offset': '0', 'upload-checksum': checksum(chunk) },
    body: chunk,
  }));
  for (const id of BAD_UUIDS) {
    const method = r.pick(['GET', 'HEAD', 'DELETE', 'PATCH']);
    list.http(c, `${method} /v1/uploads/<${id.slice(0, 30)}>`, (ctx) => ({
      method,
      path: `/v1/uploads/${id}`,
      headers: {
        ...bearer(ctx.key),
        ...CHUNK_TYPE,
        'upload-offset': '0',
        'upload-checksum': checksum(chunk),
      },
      body: method === 'PATCH' ? chunk : undefined,
    }));
  }
  list.http(c, "GET the other tenant's upload", (ctx) => ({
    method: 'GET',
    path: `/v1/uploads/${ctx.otherUpload}`,
    headers: bearer(ctx.key),
  }));
  list.http(c, 'GET an upload id in upper case', (ctx) => ({
    method: 'GET',
    path: `/v1/uploads/${ctx.halfUpload.toUpperCase()}`,
    headers: bearer(ctx.key),
  }));
}

function jobProbes(list: ProbeList, r: RandomTools): void {
  const c = 'jobs';
  const post = (what: string, body: (ctx: FuzzContext) => string, h: Record<string, string> = {}) =>
    list.http(c, `POST /v1/jobs ${what}`, (ctx) => ({
      method: 'POST',
      path: '/v1/jobs',
      headers: { ...bearer(ctx.key), ...JSON_TYPE, ...h },
      body: body(ctx),
    }));
  for (const junk of JUNK_JSON.slice(0, 10)) post(`body ${JSON.stringify(junk.slice(0, 30))}`, () => junk);
  const variants: [string, (ctx: FuzzContext) => unknown][] = [
    ['upload_id not a uuid', () => ({ upload_id: 'x', model: 'brain-wm-2d' })],
    ['upload_id a number', () => ({ upload_id: 12, model: 'brain-wm-2d' })],
    ['unknown upload', () => ({ upload_id: '00000000-0000-4000-8000-000000000000', model: 'brain-wm-2d' })],
    ['incomplete upload', (ctx) => ({ upload_id: ctx.halfUpload, model: 'brain-wm-2d' })],
    ["the other tenant's upload", (ctx) => ({ upload_id: ctx.otherUpload, model: 'brain-wm-2d' })],
    ['model ""', (ctx) => ({ upload_id: ctx.completeUpload, model: '' })],
    ['model of 10 KB', (ctx) => ({ upload_id: ctx.completeUpload, model: 'm'.repeat(10_000) })],
    ['model ../../etc', (ctx) => ({ upload_id: ctx.completeUpload, model: '../../etc/passwd' })],
    ['model __proto__', (ctx) => ({ upload_id: ctx.completeUpload, model: '__proto__' })],
    ['model constructor', (ctx) => ({ upload_id: ctx.completeUpload, model: 'constructor' })],
    ['unpriced model', (ctx) => ({ upload_id: ctx.completeUpload, model: 'nnsam-tinyvit-random' })],
    ['unknown version', (ctx) => ({ upload_id: ctx.completeUpload, model: 'brain-wm-2d@9.9.9' })],
    ['malformed version', (ctx) => ({ upload_id: ctx.completeUpload, model: 'brain-wm-2d@1.2' })],
    [
      'options.tta "yes"',
      (ctx) => ({ upload_id: ctx.completeUpload, model: 'brain-wm-2d', options: { tta: 'yes' } }),
    ],
    ['options null', (ctx) => ({ upload_id: ctx.completeUpload, model: 'brain-wm-2d', options: null })],
    ['options an array', (ctx) => ({ upload_id: ctx.completeUpload, model: 'brain-wm-2d', options: [1] })],
  ];
  for (const [what, body] of variants) post(what, (ctx) => JSON.stringify(body(ctx)));
  post(
    'Idempotency-Key of the done job with another body',
    (ctx) => JSON.stringify({ upload_id: ctx.halfUpload, model: 'brain-wm-2d' }),
    { 'idempotency-key': 'fuzz-done-job' },
  );
  for (const id of BAD_UUIDS) {
    const [method, suffix] = r.pick([
      ['GET', ''],
      ['GET', '/events'],
      ['GET', '/result'],
      ['DELETE', ''],
    ] as const);
    list.http(c, `${method} /v1/jobs/<${id.slice(0, 30)}>${suffix}`, (ctx) => ({
      method,
      path: `/v1/jobs/${id}${suffix}`,
      headers: bearer(ctx.key),
    }));
  }
  list.http(c, "GET the done job with the other tenant's key", (ctx) => ({
    method: 'GET',
    path: `/v1/jobs/${ctx.doneJob}/result`,
    headers: bearer(ctx.otherKey),
  }));
}

function rangeProbes(list: ProbeList, r: RandomTools): void {
  const ranges = [
    'bytes=abc',
    'bytes=-0',
    'bytes=0-0',
    'bytes=999999999999-',
    'bytes=5-1',
    'bytes=0-1,2-3',
    'bytes=--1',
    'items=0-1',
    'bytes=1e3-',
    'bytes=00000000000000000000001-2',
    'bytes=-99999999999999999999',
    'bytes=9007199254740993-',
    'bytes=0-9007199254740993',
    'bytes= 0-1',
    'bytes=0-1 ',
    'bytes=',
    'bytes=-',
    `bytes=${'1'.repeat(400)}-`,
    'bytes=0-0,'.repeat(300),
    'BYTES=0-1',
  ];
  for (const range of ranges) {
    list.http('range', `Range ${JSON.stringify(range.slice(0, 40))}`, (ctx) => ({
      method: r.int(4) === 0 ? 'HEAD' : 'GET',
      path: `/v1/jobs/${ctx.doneJob}/result`,
      headers: { ...bearer(ctx.key), range },
    }));
  }
  for (const n of [-1, 0, 1, 2]) {
    list.http('range', `Range around the end (size${n >= 0 ? '+' : ''}${n})`, (ctx) => ({
      method: 'GET',
      path: `/v1/jobs/${ctx.doneJob}/result`,
      headers: { ...bearer(ctx.key), range: `bytes=${ctx.resultBytes + n}-` },
    }));
  }
}

function usageProbes(list: ProbeList, r: RandomTools): void {
  const values = [
    '',
    'x',
    '2026-13-01',
    '2026-02-30',
    '0000-01-01',
    '9999-12-31',
    '275760-09-13',
    '-271821-04-20',
    '2026-01-01T25:00:00Z',
    '2026-01-01T00:00:00.0000000000000000Z',
    '2026-01-01T00:00:00+99:99',
    '2026-01-01T::::Z',
    '1970-01-01',
    '2026-01-01T00:00:00Z%00',
    '%ZZ',
    'NaN',
    '1e308',
    '2026-01-01'.repeat(200),
    '%E2%80%AE2026-01-01',
  ];
  for (let n = 0; n < 40; n++) {
    const from = r.pick(values);
    const to = r.pick([...values, '2026-12-01']);
    const extra = r.pick(['', '&from=2026-01-01', '&to', '&x[]=1', `&${'a'.repeat(4000)}=1`, '&&&', '#frag']);
    const query = `?from=${from}&to=${to}${extra}`;
    list.http('usage', `GET /v1/usage${query.slice(0, 70)}`, (ctx) => ({
      method: 'GET',
      path: `/v1/usage${query}`,
      headers: {
        ...bearer(ctx.key),
        accept: r.pick(['application/json', 'text/csv', 'text/csv;q=0', '*/*']),
      },
    }));
  }
  for (const q of [
    '?from=2026-01-01&to=2025-01-01',
    '?from=2020-01-01&to=2026-01-01',
    '?from[]=1',
    '?to=2026-01-01&to=2027-01-01',
  ]) {
    list.http('usage', `GET /v1/usage${q}`, (ctx) => ({
      method: 'GET',
      path: `/v1/usage${q}`,
      headers: bearer(ctx.key),
    }));
  }
}

function segmentRefusals(list: ProbeList, r: RandomTools): void {
  const c = 'segment-request';
  const models = [
    '',
    'm'.repeat(10_000),
    '../brain-wm-2d',
    'brain-wm-2d%00',
    'no-such-model',
    'BRAIN-WM-2D',
    '__proto__',
    'nnsam-tinyvit-random',
    'brain-wm-2d@9.9.9',
    'brain-wm-2d@1.2',
    'brain-wm-2d@__proto__',
    'brain-wm-2d@1.2.0@1.2.0',
  ];
  const tiny = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
  for (const model of models) {
    list.http(c, `model=${JSON.stringify(model.slice(0, 30))}`, (ctx) => ({
      method: 'POST',
      path: `/v1/segment?model=${model}`,
      headers: { ...bearer(ctx.key), 'content-type': 'application/octet-stream' },
      body: tiny,
    }));
  }
  for (const q of ['', '?', '?model', '?model=brain-wm-2d&model=x', '?model[]=brain-wm-2d']) {
    list.http(c, `query ${JSON.stringify(q)}`, (ctx) => ({
      method: 'POST',
      path: `/v1/segment${q}`,
      headers: { ...bearer(ctx.key), 'content-type': 'application/octet-stream' },
      body: tiny,
    }));
  }
  const bodies: [string, Uint8Array | string | undefined][] = [
    ['no body', undefined],
    ['empty body', new Uint8Array(0)],
    ['1 byte', new Uint8Array([0])],
    ['GIF header', 'GIF89a\u0001\u0000\u0001\u0000'],
    ['%PDF header', '%PDF-1.7\n'],
    [
      'zlib stream of text',
      new Uint8Array([0x78, 0x9c, 0x4b, 0x4c, 0x4a, 0x06, 0x00, 0x02, 0x4d, 0x01, 0x27]),
    ],
  ];
  for (const [what, body] of bodies) {
    list.http(c, what, (ctx) => ({
      method: 'POST',
      path: '/v1/segment?model=brain-wm-2d',
      headers: {
        ...bearer(ctx.key),
        'content-type': r.pick(['application/octet-stream', 'text/plain', 'image/png']),
      },
      body,
    }));
  }
  for (let n = 0; n < 8; n++) {
    const body = r.bytes(r.pick([2, 16, 348, 4096]));
    list.http(c, `${body.byteLength} random bytes`, (ctx) => ({
      method: 'POST',
      path: '/v1/segment?model=brain-wm-2d',
      headers: { ...bearer(ctx.key), 'content-type': 'application/octet-stream' },
      body,
    }));
  }
}
