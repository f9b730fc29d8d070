/**
 * Shared checks of the API tests: problem+json bodies whose type and status the OpenAPI document
 * declares for the operation, and a request id on every response.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ApiWorld } from './api-world.js';

import { PROBLEM_BASE } from '../../engine/protocol/problem.js';

export { PROBLEM_BASE };

/** The part of an OpenAPI document the checks read. */
export interface OpenApiDoc {
  openapi: string;
  paths: Record<
    string,
    Record<string, { responses: Record<string, { description: string; content?: Record<string, unknown> }> }>
  >;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
}

/** Fetches `/openapi.json`. */
export async function openApiDoc(w: ApiWorld): Promise<OpenApiDoc> {
  const res = await w.fetch('/openapi.json');
  assert.equal(res.status, 200);
  return (await res.json()) as OpenApiDoc;
}

/**
 * Asserts `res` is problem+json of `code` with `status`, carries X-Request-Id, and that `doc`
 * documents that problem type for `operation` ("patch /v1/uploads/{id}"). Returns the body.
 */
export async function expectProblem(
  res: Response,
  status: number,
  code: string,
  doc: OpenApiDoc,
  operation: string,
): Promise<{ type: string; status: number; detail: string }> {
  const text = await res.text();
  assert.equal(res.status, status, `${operation}: ${text}`);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  assert.ok(res.headers.get('x-request-id'), 'X-Request-Id on an error response');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff', 'nosniff on an error response');
  const body = JSON.parse(text) as { type: string; status: number; detail: string };
  assert.equal(body.type, PROBLEM_BASE + code);
  assert.equal(body.status, status);
  const [method, path] = operation.split(' ');
  const documented = doc.paths[path]?.[method]?.responses[String(status)];
  assert.ok(
    documented?.content?.['application/problem+json'],
    `${operation} documents ${status} problem+json`,
  );
  assert.ok(documented.description.includes(PROBLEM_BASE + code), `${operation} documents ${code}`);
  return body;
}

/** `sha256 <base64>` of bytes, the Upload-Checksum header value. */
export const checksumHeader = (bytes: Uint8Array) =>
  `sha256 ${createHash('sha256').update(bytes).digest('base64')}`;

/** Lower-case hex SHA-256. */
export const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A tus-like client over one key. */
export function uploadClient(w: ApiWorld, key: string) {
  const auth = { authorization: `Bearer ${key}` };
  return {
    auth,
    create: (body: unknown) =>
      w.fetch('/v1/uploads', {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    patch: (id: string, offset: number, chunk: Uint8Array, checksum = checksumHeader(chunk)) =>
      w.fetch(`/v1/uploads/${id}`, {
        method: 'PATCH',
        headers: {
          ...auth,
          'content-type': 'application/offset+octet-stream',
          'upload-offset': String(offset),
          'upload-checksum': checksum,
        },
        body: chunk as unknown as BodyInit,
      }),
    head: (id: string) => w.fetch(`/v1/uploads/${id}`, { method: 'HEAD', headers: auth }),
    get: (id: string) => w.fetch(`/v1/uploads/${id}`, { headers: auth }),
    delete: (id: string) => w.fetch(`/v1/uploads/${id}`, { method: 'DELETE', headers: auth }),
  };
}

/** Uploads `bytes` in `chunk`-sized PATCHes and returns the complete upload's id. */
export async function uploadWhole(
  client: ReturnType<typeof uploadClient>,
  bytes: Uint8Array,
  chunk = 2 ** 20,
  contentType = 'application/gzip',
): Promise<string> {
  const res = await client.create({
    length: bytes.byteLength,
    content_type: contentType,
    sha256: sha256Hex(bytes),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const { id } = (await res.json()) as { id: string };
  for (let at = 0; at < bytes.byteLength; at += chunk) {
    const r = await client.patch(id, at, bytes.subarray(at, at + chunk));
    assert.equal(r.status, 204, await r.text());
  }
  return id;
}

/** Asserts `value` has exactly the properties of component schema `name`, and all its required ones. */
export function conforms(doc: OpenApiDoc, value: object, name: string): void {
  const schema = doc.components.schemas[name] as { properties: Record<string, unknown>; required?: string[] };
  assert.ok(schema, `schema ${name}`);
  assert.deepEqual(Object.keys(value).sort(), Object.keys(schema.properties).sort(), `${name} fields`);
  for (const r of schema.required ?? []) assert.ok(r in value, `${name}.${r} is present`);
}
