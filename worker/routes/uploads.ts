/**
 * @module
 * Resumable uploads with tus-like semantics: declare (POST), send chunks at the current offset with a
 * checksum (PATCH), ask for the offset (HEAD or GET), abandon (DELETE). State lives in one
 * {@link UploadSession} Durable Object per upload, bytes in R2; every id is scoped to its tenant.
 */
import { InputError, LimitError, NotFoundError, UnsupportedError } from '../../engine/edge.js';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../app-env.js';
import { ConflictError } from '../http-errors.js';
import { requireScope, tenantOf } from '../middleware/auth.js';
import { problemResponses } from '../problem.js';
import { BEARER, newRouter } from '../router.js';
import { parseChecksumHeader, sha256OfBytes } from '../uploads/read-chunk.js';
import { requestBytes } from '../http-body.js';
import type { UploadState } from '../uploads/upload-types.js';

const CHUNK_TYPE = 'application/offset+octet-stream';

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
    sha256: z.string(),
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

const offsetHeaders = {
  'Upload-Offset': { description: 'Bytes received so far', schema: { type: 'integer' as const } },
  'Upload-Length': { description: 'Declared length', schema: { type: 'integer' as const } },
  'Upload-Expires': {
    description: 'When the upload and its data are deleted (RFC 9110 date)',
    schema: { type: 'string' as const },
  },
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
}

const notFound = (id: string) => new NotFoundError('upload_not_found', `No upload ${id}.`);

const create = createRoute({
  method: 'post',
  path: '/v1/uploads',
  summary: 'Declare a resumable upload',
  security: BEARER,
  middleware: [requireScope('uploads')] as const,
  request: { body: { required: true, content: { 'application/json': { schema: UploadCreate } } } },
  responses: {
    201: {
      description: 'Declared',
      headers: offsetHeaders,
      content: { 'application/json': { schema: Upload } },
    },
    ...problemResponses('unauthorized', 'insufficient_scope', 'upload_too_large'),
  },
});

const describe = createRoute({
  method: 'get',
  path: '/v1/uploads/{id}',
  summary: 'Upload state and offset (HEAD gives the same headers without a body)',
  security: BEARER,
  middleware: [requireScope('uploads')] as const,
  request: { params: IdParam },
  responses: {
    200: {
      description: 'The upload',
      headers: offsetHeaders,
      content: { 'application/json': { schema: Upload } },
    },
    ...problemResponses('unauthorized', 'insufficient_scope', 'upload_not_found'),
  },
});

const append = createRoute({
  method: 'patch',
  path: '/v1/uploads/{id}',
  summary: 'Append one chunk at the current offset',
  description:
    'A chunk already received (same offset, length and checksum) is acknowledged again without change. ' +
    'Any other offset than the current one is refused with 409 and the current offset. The chunk whose ' +
    'checksum does not match is dropped. With the last byte the whole file is checked against its SHA-256.',
  security: BEARER,
  middleware: [requireScope('uploads')] as const,
  request: {
    params: IdParam,
    headers: z.object({
      'upload-offset': z
        .string()
        .regex(/^\d{1,16}$/)
        .openapi({ description: 'Where this chunk starts' }),
      'upload-checksum': z.string().openapi({ description: "'sha256 ' + base64 of the chunk's SHA-256" }),
    }),
    body: { required: true, content: { [CHUNK_TYPE]: { schema: z.string().openapi({ format: 'binary' }) } } },
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
      'chunk_checksum_mismatch',
      'chunk_beyond_length',
      'upload_checksum_mismatch',
    ),
  },
});

const remove = createRoute({
  method: 'delete',
  path: '/v1/uploads/{id}',
  summary: 'Delete an upload and its data',
  security: BEARER,
  middleware: [requireScope('uploads')] as const,
  request: { params: IdParam },
  responses: {
    204: { description: 'Deleted' },
    ...problemResponses('unauthorized', 'insufficient_scope', 'upload_not_found'),
  },
});

/** The `/v1/uploads` routes. */
export const uploadRoutes = newRouter()
  .openapi(create, async (c) => {
    const body = c.req.valid('json');
    const config = c.get('config');
    if (body.length > config.maxUploadBytes) {
      throw new LimitError('upload_too_large', `An upload may hold at most ${config.maxUploadBytes} bytes.`);
    }
    const id = crypto.randomUUID();
    const state = await c.env.UPLOAD_SESSIONS.getByName(id).create({
      id,
      tenant: tenantOf(c),
      length: body.length,
      content_type: body.content_type,
      sha256: body.sha256,
      ttl_seconds: config.uploadTtlSeconds,
      now: Date.now(),
    });
    setOffsetHeaders(c, state);
    c.header('Location', `/v1/uploads/${id}`);
    return c.json(view(state), 201);
  })
  .openapi(describe, async (c) => {
    const { id } = c.req.valid('param');
    const state = await c.env.UPLOAD_SESSIONS.getByName(id).describe(tenantOf(c), Date.now());
    if (!state) throw notFound(id);
    setOffsetHeaders(c, state);
    return c.json(view(state), 200);
  })
  .openapi(append, async (c) => {
    const { id } = c.req.valid('param');
    const headers = c.req.valid('header');
    const tenant = tenantOf(c);
    const { maxChunkBytes } = c.get('config');
    if ((c.req.header('Content-Type') ?? '').split(';')[0].trim() !== CHUNK_TYPE) {
      throw new UnsupportedError('unsupported_media_type', `A chunk is sent as ${CHUNK_TYPE}.`);
    }
    if (Number(c.req.header('Content-Length') ?? 0) > maxChunkBytes) {
      throw new LimitError('chunk_too_large', `A chunk may hold at most ${maxChunkBytes} bytes.`);
    }
    const declared = parseChecksumHeader(headers['upload-checksum']);
    const bytes = await requestBytes(c, maxChunkBytes, 'chunk_too_large');
    if (bytes.byteLength === 0)
      throw new InputError('chunk_beyond_length', 'An empty chunk carries nothing.');
    const actual = await sha256OfBytes(bytes);
    if (actual !== declared) {
      throw new InputError(
        'chunk_checksum_mismatch',
        'The chunk does not match its Upload-Checksum; it was dropped.',
      );
    }
    const offset = Number(headers['upload-offset']);
    const stub = c.env.UPLOAD_SESSIONS.getByName(id);
    const result = await stub.append(tenant, { offset, sha256: actual, bytes }, Date.now());
    switch (result.kind) {
      case 'stored':
      case 'duplicate':
        setOffsetHeaders(c, result.upload);
        return c.body(null, 204);
      case 'offset_conflict':
        throw new ConflictError(
          'upload_offset_conflict',
          `The upload is at offset ${result.offset}, not ${offset}.`,
          { 'Upload-Offset': String(result.offset) },
        );
      case 'beyond_length':
        throw new InputError(
          'chunk_beyond_length',
          `The chunk ends past the declared length ${result.length}.`,
        );
      case 'whole_checksum_mismatch':
        throw new InputError(
          'upload_checksum_mismatch',
          'The complete file does not match the declared SHA-256; the upload was deleted.',
        );
      case 'not_found':
        throw notFound(id);
    }
  })
  .openapi(remove, async (c) => {
    const { id } = c.req.valid('param');
    const removed = await c.env.UPLOAD_SESSIONS.getByName(id).remove(tenantOf(c), Date.now());
    if (!removed) throw notFound(id);
    return c.body(null, 204);
  });
