// An upload is stored in at most MAX_UPLOAD_PIECES pieces: its state lists them in one stored value,
// which SQLite refuses past 2 MB (found by review: one-byte PATCHes made every later PATCH fail at
// about 21,500 pieces and the upload unfinishable). A piece that would pass the bound without ending
// the upload is refused before anything is stored; the last piece is always taken. The session runs
// here under Node with its storage and bucket in memory (worker/test-shims/cloudflare-workers.ts),
// and with stand-ins for workerd's FixedLengthStream and DigestStream.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { UploadState } from '../uploads/upload-types.js';
import { MAX_UPLOAD_PIECES, UploadSession } from './upload-session.js';

const g = globalThis as unknown as Record<string, unknown>;
g.FixedLengthStream ??= class {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  constructor() {
    ({ readable: this.readable, writable: this.writable } = new TransformStream<Uint8Array, Uint8Array>());
  }
};
(crypto as unknown as Record<string, unknown>).DigestStream ??= class extends WritableStream<Uint8Array> {
  readonly digest: Promise<ArrayBuffer>;
  constructor() {
    const hash = createHash('sha256');
    let done!: (d: ArrayBuffer) => void;
    super({
      write: (chunk) => void hash.update(chunk),
      close: () => done(new Uint8Array(hash.digest()).buffer),
    });
    this.digest = new Promise((resolve) => (done = resolve));
  }
};

/** The largest piece a request stores here (the route's MAX_CHUNK_BYTES). */
const PIECE_BYTES = 10;

/** A session holding an upload of `length` bytes of which `pieces` one-byte pieces are stored. */
async function session(pieces: number, length: number) {
  const objects = new Map<string, Uint8Array>();
  const data = new Map<string, unknown>();
  const storage = {
    get: async (key: string) => structuredClone(data.get(key)),
    put: async (key: string, value: unknown) => void data.set(key, structuredClone(value)),
    setAlarm: async () => {},
    deleteAlarm: async () => {},
    deleteAll: async () => data.clear(),
  };
  const bucket = {
    put: async (key: string, body: Uint8Array | ReadableStream<Uint8Array>) =>
      void objects.set(
        key,
        body instanceof Uint8Array ? body : new Uint8Array(await new Response(body).arrayBuffer()),
      ),
    get: async (key: string) => {
      const bytes = objects.get(key);
      return bytes ? { arrayBuffer: async () => bytes.slice().buffer } : null;
    },
    delete: async (keys: string | string[]) => {
      for (const k of Array.isArray(keys) ? keys : [keys]) objects.delete(k);
    },
    list: async () => ({ objects: [...objects.keys()].map((key) => ({ key })), truncated: false }),
  };
  const upload = new UploadSession(
    { storage } as unknown as DurableObjectState,
    { UPLOADS: bucket } as unknown as Env,
  );
  const state = await upload.create({
    id: 'u1',
    tenant: 'acme',
    length,
    content_type: 'application/octet-stream',
    sha256: null,
    metadata: null,
    token_id: null,
    ttl_seconds: 3600,
    now: 0,
  });
  const chunkKey = (offset: number) => `uploads/acme/u1/chunk/${String(offset).padStart(16, '0')}`;
  const sha = createHash('sha256')
    .update(new Uint8Array([7]))
    .digest('hex');
  const seeded: UploadState = {
    ...state,
    offset: pieces,
    chunks: Array.from({ length: pieces }, (_, offset) => ({ offset, length: 1, sha256: sha })),
  };
  for (let offset = 0; offset < pieces; offset++) objects.set(chunkKey(offset), new Uint8Array([7]));
  data.set('upload', seeded);
  const append = (offset: number, bytes: Uint8Array) =>
    upload.append(
      'acme',
      { offset, sha256: createHash('sha256').update(bytes).digest('hex'), bytes },
      1,
      null,
      PIECE_BYTES,
    );
  return { append, objects, stored: () => data.get('upload') as UploadState | undefined };
}

describe('UploadSession.append: the bound on pieces', () => {
  it('refuses a piece past the bound that does not end the upload, storing nothing', async () => {
    const s = await session(MAX_UPLOAD_PIECES - 1, MAX_UPLOAD_PIECES + 1);
    const before = s.objects.size;
    assert.deepEqual(await s.append(MAX_UPLOAD_PIECES - 1, new Uint8Array([7])), {
      kind: 'too_many_pieces',
      max: MAX_UPLOAD_PIECES,
      offset: MAX_UPLOAD_PIECES - 1,
      length: MAX_UPLOAD_PIECES + 1,
      pieceBytes: PIECE_BYTES,
    });
    assert.equal(s.objects.size, before);
    assert.equal(s.stored()?.offset, MAX_UPLOAD_PIECES - 1);
    // The state at the bound stays well inside SQLite's 2 MB per value.
    assert.ok(JSON.stringify(s.stored()).length < 1.5e6);
  });

  it('takes the last piece at the bound and completes the upload', async () => {
    const s = await session(MAX_UPLOAD_PIECES - 1, MAX_UPLOAD_PIECES + 1);
    const result = await s.append(MAX_UPLOAD_PIECES - 1, new Uint8Array([7, 7]));
    assert.equal(result.kind, 'stored');
    assert.equal(s.stored()?.state, 'complete');
    const whole = new Uint8Array(MAX_UPLOAD_PIECES + 1).fill(7);
    assert.equal(s.stored()?.sha256, createHash('sha256').update(whole).digest('hex'));
  });

  it('takes small pieces while the rest still fits in the pieces left, so every upload it took can be finished', async () => {
    const s = await session(MAX_UPLOAD_PIECES - 100, MAX_UPLOAD_PIECES - 100 + 500);
    let at = MAX_UPLOAD_PIECES - 100;
    let small = 0;
    for (;;) {
      const r = await s.append(at, new Uint8Array([7]));
      if (r.kind !== 'stored') {
        assert.equal(r.kind, 'too_many_pieces');
        break;
      }
      at += 1;
      small += 1;
    }
    // 99 pieces were left; one-byte pieces are taken while the rest fits in the others at 10 bytes.
    assert.ok(small > 40 && small < 99, `${small} small pieces taken`);
    let last;
    while (at < MAX_UPLOAD_PIECES - 100 + 500) {
      const n = Math.min(PIECE_BYTES, MAX_UPLOAD_PIECES - 100 + 500 - at);
      last = await s.append(at, new Uint8Array(n).fill(7));
      assert.equal(last.kind, 'stored', `at ${at}`);
      at += n;
    }
    assert.equal(s.stored()?.state, 'complete');
  });

  it('takes pieces below the bound as before', async () => {
    const s = await session(10, 100);
    assert.equal((await s.append(10, new Uint8Array([7]))).kind, 'stored');
    assert.equal(s.stored()?.offset, 11);
  });
});
