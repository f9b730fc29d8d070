/**
 * @module
 * Resumable uploads, a tus 1.0.0 server (core, creation, creation-with-upload, checksum with sha256,
 * termination, expiration; worker/uploads/tus.ts) that also takes our earlier JSON creation body:
 * declare (POST), send bytes at the current offset (PATCH), ask for the offset (HEAD or GET),
 * abandon (DELETE), discover (OPTIONS). State lives in one {@link UploadSession} Durable Object per
 * upload, bytes in R2; every id is scoped to its tenant, and to its upload token if a token made it.
 *
 * A PATCH with `Upload-Checksum` is read whole (up to `MAX_CHUNK_BYTES`) and kept only if it
 * matches. One without is stored as it streams in, in pieces of `MAX_CHUNK_BYTES`, so that a tus
 * client sending a whole file in one request is served, and a connection cut mid-request keeps what
 * arrived: the client's HEAD then resumes from there, as tus expects.
 */
import { AppError, InputError, LimitError, NotFoundError, UnsupportedError } from '../../engine/edge.js';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../app-env.js';
import { BodyIncompleteError, ConflictError, HttpError, UnauthorizedError } from '../http-errors.js';
import { joinBytes, requestBytes } from '../http-body.js';
import { credentialStillLive, requireScope, tenantOf, tokenIdOf } from '../middleware/auth.js';
import { outliveClient } from '../outlive-client.js';
import { problemResponses } from '../problem.js';
import { BEARER, newRouter } from '../router.js';
import { parseChecksumHeader, sha256OfBytes } from '../uploads/read-chunk.js';
import {
  CHUNK_TYPE,
  TUS_EXTENSIONS,
  TUS_VERSION,
  tusDeclaration,
  tusHeaders,
  type UploadDeclaration,
} from '../uploads/tus.js';
import type { AppendResult, UploadState } from '../uploads/upload-types.js';

export const UploadCreate = z
  .object({
    length: z.number().int().positive().openapi({ description: 'Total bytes of the file.' }),
    content_type: z
      .string()
      .regex(/^[\w.+-]+\/[\w.+-]+$/)
      .openapi({ example: 'application/gzip' }),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .openapi({ description: 'Lower-case hex SHA-256 of the whole file, checked when it is complete.' }),
  })
  .openapi('UploadCreate');

export const Upload = z
  .object({
    id: z.string().uuid(),
    length: z.number().int(),
    offset: z.number().int(),
    content_type: z.string(),
    sha256: z.string().nullable().openapi({
      description:
        'Hex SHA-256 of the whole file: the declared one, or, when none was declared, computed once complete',
    }),
    state: z.enum(['receiving', 'verifying', 'complete']),
    created_at: z.string().datetime(),
    expires_at: z.string().datetime(),
  })
  .openapi('Upload');

const IdParam = z.object({
  id: z
    .string()
    .uuid()
    .openapi({ param: { name: 'id', in: 'path' } }),
});

const integer = { type: 'integer' as const };
const text = { type: 'string' as const };
const tusResumable = { 'Tus-Resumable': { description: `Always ${TUS_VERSION}`, schema: text } };
const offsetHeaders = {
  ...tusResumable,
  'Upload-Offset': { description: 'Bytes received so far', schema: integer },
  'Upload-Length': { description: 'Declared length', schema: integer },
  'Upload-Expires': { description: 'When the upload and its data are deleted (RFC 9110 date)', schema: text },
};

const tusRequestHeaders = {
  'tus-resumable': z
    .string()
    .optional()
    .openapi({ description: `${TUS_VERSION}; another version is refused with 412` }),
};

const view = (s: UploadState) => ({
  id: s.id,
  length: s.length,
  offset: s.offset,
  content_type: s.content_type,
  sha256: s.sha256,
  state: s.state,
  created_at: new Date(s.created_at).toISOString(),
  expires_at: new Date(s.expires_at).toISOString(),
});

function setOffsetHeaders(c: Context<AppEnv>, s: UploadState): void {
  c.header('Upload-Offset', String(s.offset));
  c.header('Upload-Length', String(s.length));
  c.header('Upload-Expires', new Date(s.expires_at).toUTCString());
  c.header('Cache-Control', 'no-store');
  if (s.metadata) c.header('Upload-Metadata', s.metadata);
}

const notFound = (id: string) => new NotFoundError('upload_not_found', `No upload ${id}.`);
const isChunkType = (c: Context<AppEnv>) =>
  (c.req.header('Content-Type') ?? '').split(';')[0].trim().toLowerCase() === CHUNK_TYPE;
const binary = { schema: z.string().openapi({ format: 'binary' }) };

const create = createRoute({
  method: 'post',
  path: '/v1/uploads',
  summary: 'Declare a resumable upload (tus creation, or a JSON body)',
  description:
    'tus: `Upload-Length`, and in `Upload-Metadata` optionally `sha256` (hex of the whole file, then ' +
    'checked when it is complete) and `content_type` or `filetype`; no body, or with ' +
    `\`Content-Type: ${CHUNK_TYPE}\` the first bytes (creation-with-upload). Or a JSON UploadCreate body.`,
  security: BEARER,
  middleware: [requireScope('uploads', { uploadTokens: true })] as const,
  request: {
    headers: z.object({
      ...tusRequestHeaders,
      'upload-length': z.string().optional().openapi({ description: 'tus: total bytes of the file' }),
      'upload-metadata': z.string().optional().openapi({ description: 'tus: `key base64,...`' }),
    }),
    body: {
      required: false,
      content: { 'application/json': { schema: UploadCreate }, [CHUNK_TYPE]: binary },
    },
  },
  responses: {
    201: {
      description: 'Declared; `Location` names it',
      headers: offsetHeaders,
      content: { 'application/json': { schema: Upload } },
    },
    ...problemResponses(
      'unauthorized',
      'insufficient_scope',
      'upload_too_large',
      'token_byte_limit',
      'tus_version_unsupported',
      'upload_checksum_mismatch',
    ),
  },
});

const describe = createRoute({
  method: 'get',
  path: '/v1/uploads/{id}',
  summary: 'Upload state and offset (HEAD gives the same headers without a body)',
  security: BEARER,
  middleware: [requireScope('uploads', { uploadTokens: true })] as const,
  request: { params: IdParam },
  responses: {
    200: {
      description: 'The upload',
      headers: offsetHeaders,
      content: { 'application/json': { schema: Upload } },
    },
    ...problemResponses('unauthorized', 'insufficient_scope', 'upload_not_found', 'tus_version_unsupported'),
  },
});

const append = createRoute({
  method: 'patch',
  path: '/v1/uploads/{id}',
  summary: 'Append bytes at the current offset',
  description:
    'With `Upload-Checksum: sha256 <base64>` the body (at most MAX_CHUNK_BYTES) is kept only if it ' +
    'matches (460 otherwise); without, it is stored as it arrives, and what arrived before a broken ' +
    'connection is kept. Bytes already received (same offset, same bytes) are acknowledged again without ' +
    'change; any other offset than the current one is refused with 409 and the current offset. With ' +
    'the last byte the whole file is checked against its declared SHA-256.',
  security: BEARER,
  middleware: [requireScope('uploads', { uploadTokens: true })] as const,
  request: {
    params: IdParam,
    headers: z.object({
      ...tusRequestHeaders,
      'upload-offset': z
        .string()
        .regex(/^\d{1,16}$/)
        .openapi({ description: 'Where these bytes start' }),
      'upload-checksum': z
        .string()
        .optional()
        .openapi({ description: "'sha256 ' + base64 of the body's SHA-256" }),
    }),
    body: { required: true, content: { [CHUNK_TYPE]: binary } },
  },
  responses: {
    204: { description: 'Stored (or already stored)', headers: offsetHeaders },
    ...problemResponses(
      'unauthorized',
      'insufficient_scope',
      'upload_not_found',
      'upload_offset_conflict',
      'chunk_too_large',
      'unsupported_media_type',
      'checksum_algorithm_unsupported',
      'chunk_checksum_mismatch',
      'chunk_beyond_length',
      'upload_too_many_pieces',
      'upload_checksum_mismatch',
      'tus_version_unsupported',
      'request_body_incomplete',
    ),
  },
});

const remove = createRoute({
  method: 'delete',
  path: '/v1/uploads/{id}',
  summary: 'Delete an upload and its data (tus termination)',
  security: BEARER,
  middleware: [requireScope('uploads', { uploadTokens: true })] as const,
  request: { params: IdParam },
  responses: {
    204: { description: 'Deleted', headers: tusResumable },
    ...problemResponses('unauthorized', 'insufficient_scope', 'upload_not_found', 'tus_version_unsupported'),
  },
});

const discover = createRoute({
  method: 'options',
  path: '/v1/uploads',
  summary: 'tus discovery: version, extensions, largest upload, checksum algorithm (public)',
  responses: {
    204: {
      description: 'The capabilities, in headers',
      headers: {
        ...tusResumable,
        'Tus-Version': { description: TUS_VERSION, schema: text },
        'Tus-Extension': { description: TUS_EXTENSIONS, schema: text },
        'Tus-Max-Size': { description: 'MAX_UPLOAD_BYTES', schema: integer },
        'Tus-Checksum-Algorithm': { description: 'sha256', schema: text },
      },
    },
    ...problemResponses(),
  },
});

/** A JSON declaration, or the tus headers' one. */
function declarationOf(c: Context<AppEnv>, json: Partial<z.infer<typeof UploadCreate>>): UploadDeclaration {
  if (json.length !== undefined && json.content_type !== undefined && json.sha256 !== undefined) {
    return { length: json.length, content_type: json.content_type, sha256: json.sha256, metadata: null };
  }
  return tusDeclaration((name) => c.req.header(name));
}

/**
 * Sends the request body to upload `id` from `offset`; null when the body was empty. A body with a
 * checksum is one chunk; one without goes in pieces as it streams (module notes).
 */
async function appendBody(c: Context<AppEnv>, id: string, offset: number): Promise<AppendResult | null> {
  const stub = c.env.UPLOAD_SESSIONS.getByName(id);
  const [tenant, tokenId] = [tenantOf(c), tokenIdOf(c)];
  const { maxChunkBytes } = c.get('config');
  const checksum = c.req.header('Upload-Checksum');
  const send = async (at: number, bytes: Uint8Array) =>
    stub.append(
      tenant,
      { offset: at, sha256: await sha256OfBytes(bytes), bytes },
      Date.now(),
      tokenId,
      maxChunkBytes,
    );
  if (checksum !== undefined) {
    if (Number(c.req.header('Content-Length') ?? 0) > maxChunkBytes) {
      throw new LimitError(
        'chunk_too_large',
        `A chunk with a checksum may hold at most ${maxChunkBytes} bytes.`,
      );
    }
    // Read before the header is judged: a refusal with the body unread can break the client's
    // connection before it reads the answer.
    const bytes = await requestBytes(c, maxChunkBytes, 'chunk_too_large');
    const declared = parseChecksumHeader(checksum);
    if (bytes.byteLength === 0) return null;
    if ((await sha256OfBytes(bytes)) !== declared) {
      throw new HttpError(
        'chunk_checksum_mismatch',
        460,
        'The body does not match its Upload-Checksum; it was dropped.',
      );
    }
    return send(offset, bytes);
  }
  const reader = c.req.raw.body?.getReader();
  if (!reader) return null;
  let at = offset;
  let last: AppendResult | null = null;
  let parts: Uint8Array[] = [];
  let held = 0;
  let flushed = 0;
  const flush = async (): Promise<boolean> => {
    // One request may carry the whole upload, for as long as the client drips it: the credential is
    // asked again before every piece but the first, so a revoked or expired one stores at most one
    // more piece (found by review: a token revoked mid-PATCH wrote its upload to the end).
    if (flushed++ > 0 && !(await credentialStillLive(c))) {
      await reader.cancel().catch(() => {});
      throw new UnauthorizedError(
        'The credential was revoked or expired during the upload; the bytes stored before are kept.',
      );
    }
    const bytes = joinBytes(parts, held);
    [parts, held] = [[], 0];
    last = await send(at, bytes);
    at += bytes.byteLength;
    return last.kind === 'stored' || last.kind === 'duplicate';
  };
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (err) {
      // What arrived whole is kept, so that the client's HEAD resumes after it. The client is gone:
      // on Cloudflare the store must outlive the request.
      if (held > 0) await outliveClient(c, flush()).catch(() => false);
      throw err instanceof AppError ? err : new BodyIncompleteError(err);
    }
    if (chunk.done) break;
    let value = chunk.value;
    while (value.byteLength > 0) {
      const take = Math.min(maxChunkBytes - held, value.byteLength);
      parts.push(value.subarray(0, take));
      held += take;
      value = value.subarray(take);
      if (held === maxChunkBytes && !(await flush())) {
        await reader.cancel().catch(() => {});
        return last;
      }
    }
  }
  if (held > 0) await flush();
  return last;
}

/** The upload after an append, or the append's refusal as a problem. */
function appended(id: string, offset: number, result: AppendResult): UploadState {
  switch (result.kind) {
    case 'stored':
    case 'duplicate':
      return result.upload;
    case 'offset_conflict':
      throw new ConflictError(
        'upload_offset_conflict',
        `The upload is at offset ${result.offset}, not ${offset}.`,
        { 'Upload-Offset': String(result.offset) },
      );
    case 'beyond_length':
      throw new InputError('chunk_beyond_length', `The bytes end past the declared length ${result.length}.`);
    case 'too_many_pieces':
      throw new InputError(
        'upload_too_many_pieces',
        `An upload is stored in at most ${result.max} pieces, and the ${result.length - result.offset} bytes left from offset ${result.offset} would not fit in the pieces left: send them in pieces of ${result.pieceBytes} bytes (a PATCH without Upload-Checksum is stored in pieces that large).`,
      );
    case 'whole_checksum_mismatch':
      throw new InputError(
        'upload_checksum_mismatch',
        'The complete file does not match the declared SHA-256; the upload was deleted.',
      );
    case 'not_found':
      throw notFound(id);
  }
}

/** The state of an upload the caller can see; 404 otherwise. */
async function uploadOf(c: Context<AppEnv>, id: string): Promise<UploadState> {
  const state = await c.env.UPLOAD_SESSIONS.getByName(id).describe(tenantOf(c), Date.now(), tokenIdOf(c));
  if (!state) throw notFound(id);
  return state;
}

/** The `/v1/uploads` routes. */
export const uploadRoutes = newRouter();
uploadRoutes.use('/v1/uploads', tusHeaders);
uploadRoutes.use('/v1/uploads/*', tusHeaders);
uploadRoutes
  .openapi(create, async (c) => {
    const declared = declarationOf(c, c.req.valid('json'));
    const config = c.get('config');
    if (declared.length > config.maxUploadBytes) {
      throw new LimitError('upload_too_large', `An upload may hold at most ${config.maxUploadBytes} bytes.`);
    }
    const tokenId = tokenIdOf(c);
    if (tokenId !== null) {
      // Declared lengths count, sent or not: the limit then holds across any number of uploads.
      const spent = await c.env.UPLOAD_TOKENS.getByName(tokenId).spendBytes(declared.length, Date.now());
      if (spent.kind === 'gone')
        throw new UnauthorizedError('The upload token is unknown, expired or revoked.');
      if (spent.kind === 'limit') {
        throw new LimitError(
          'token_byte_limit',
          `This upload token may declare ${spent.max} bytes in all; ${spent.used} are declared already.`,
        );
      }
    }
    const id = crypto.randomUUID();
    let state: UploadState = await c.env.UPLOAD_SESSIONS.getByName(id).create({
      id,
      tenant: tenantOf(c),
      ...declared,
      token_id: tokenId,
      ttl_seconds: config.uploadTtlSeconds,
      now: Date.now(),
    });
    c.header('Location', `/v1/uploads/${id}`);
    if (isChunkType(c)) {
      // creation-with-upload: bytes that are refused (a bad checksum, too many) leave the upload
      // created at offset 0 for the client's PATCH, as tus asks; a whole-file mismatch deleted it.
      try {
        const result = await appendBody(c, id, 0);
        if (result) state = appended(id, 0, result);
      } catch (err) {
        if (!(err instanceof AppError) || err.code === 'upload_checksum_mismatch') throw err;
        state = await uploadOf(c, id);
      }
    }
    setOffsetHeaders(c, state);
    return c.json(view(state), 201);
  })
  .openapi(describe, async (c) => {
    const state = await uploadOf(c, c.req.valid('param').id);
    setOffsetHeaders(c, state);
    return c.json(view(state), 200);
  })
  .openapi(append, async (c) => {
    const { id } = c.req.valid('param');
    if (!isChunkType(c)) {
      throw new UnsupportedError('unsupported_media_type', `Upload bytes are sent as ${CHUNK_TYPE}.`);
    }
    const offset = Number(c.req.valid('header')['upload-offset']);
    const result = await appendBody(c, id, offset);
    if (result === null) {
      // An empty PATCH changes nothing; it is answered like a HEAD that also checks the offset.
      const state = await uploadOf(c, id);
      if (state.offset !== offset) appended(id, offset, { kind: 'offset_conflict', offset: state.offset });
      setOffsetHeaders(c, state);
      return c.body(null, 204);
    }
    setOffsetHeaders(c, appended(id, offset, result));
    return c.body(null, 204);
  })
  .openapi(remove, async (c) => {
    const { id } = c.req.valid('param');
    const removed = await c.env.UPLOAD_SESSIONS.getByName(id).remove(tenantOf(c), Date.now(), tokenIdOf(c));
    if (!removed) throw notFound(id);
    return c.body(null, 204);
  })
  .openapi(discover, (c) => {
    c.header('Tus-Version', TUS_VERSION);
    c.header('Tus-Extension', TUS_EXTENSIONS);
    c.header('Tus-Max-Size', String(c.get('config').maxUploadBytes));
    c.header('Tus-Checksum-Algorithm', 'sha256');
    return c.body(null, 204);
  });
