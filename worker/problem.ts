/**
 * @module
 * RFC 9457 problem+json: the catalogue of stable problem types, their OpenAPI description, and the
 * one renderer every error goes through (`app.onError` and `app.notFound`).
 */
import { AppError, PROBLEM_BASE, PROBLEM_CONTENT_TYPE, problemBody } from '../engine/edge.js';
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { BodyIncompleteError, HttpError } from './http-errors.js';
import { log } from './log.js';

/** Every problem code the API can answer with, and its HTTP status. */
export const PROBLEM_TYPES = {
  invalid_request: 400,
  request_body_incomplete: 400,
  checksum_algorithm_unsupported: 400,
  unauthorized: 401,
  budget_exceeded: 402,
  insufficient_scope: 403,
  model_not_allowed: 403,
  token_job_limit: 403,
  route_not_found: 404,
  method_not_allowed: 405,
  upload_not_found: 404,
  model_not_found: 404,
  job_not_found: 404,
  upload_token_not_found: 404,
  upload_offset_conflict: 409,
  upload_incomplete: 409,
  model_not_priced: 409,
  result_not_ready: 409,
  idempotency_key_in_flight: 409,
  upload_gone: 410,
  result_gone: 410,
  body_too_large: 413,
  chunk_too_large: 413,
  upload_too_large: 413,
  token_byte_limit: 413,
  work_too_large: 413,
  tus_version_unsupported: 412,
  unsupported_media_type: 415,
  // tus 1.0.0's checksum extension: 460 Checksum Mismatch.
  chunk_checksum_mismatch: 460,
  chunk_beyond_length: 422,
  upload_too_many_pieces: 422,
  upload_checksum_mismatch: 422,
  idempotency_key_reused: 422,
  range_not_satisfiable: 416,
  not_acceptable: 406,
  concurrency_limit: 429,
  internal: 500,
  no_inference_node: 503,
  service_unavailable: 503,
  job_creation_unsettled: 503,
  charge_unsettled: 503,
  job_timeout: 504,
  run_timeout: 504,
} as const;
/** One problem code. */
export type ProblemCode = keyof typeof PROBLEM_TYPES;

/** The problem+json body. */
export const ProblemSchema = z
  .object({
    type: z
      .string()
      .url()
      .openapi({ example: `${PROBLEM_BASE}upload_not_found` }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
  })
  .openapi('Problem');

/** Problems any route can produce (authentication aside). */
const COMMON: ProblemCode[] = ['invalid_request', 'body_too_large', 'internal', 'service_unavailable'];

/** OpenAPI `responses` entries for the problem codes a route may answer with, grouped by status. */
export function problemResponses(...codes: ProblemCode[]) {
  const byStatus = new Map<number, string[]>();
  for (const code of [...codes, ...COMMON]) {
    const status = PROBLEM_TYPES[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<
    number,
    { description: string; content: Record<string, { schema: typeof ProblemSchema }> }
  > = {};
  for (const [status, list] of byStatus) {
    out[status] = {
      description: `Problem types: ${[...new Set(list)].map((c) => PROBLEM_BASE + c).join(', ')}`,
      content: { 'application/problem+json': { schema: ProblemSchema } },
    };
  }
  return out;
}

/** Renders any thrown value as problem+json: AppErrors with their status, the rest as 500. */
export function renderProblem(err: unknown, c: Context): Response {
  // The client leaving is not our failure: its body broke off while read (worker/http-body.ts), or
  // its request's signal fired (workerd's enable_request_signal). An error message is not asked:
  // "Network connection lost" from a binding (R2, a node) would be ours.
  if (!(err instanceof AppError) && (c.get('bodyFailed') === true || c.req.raw.signal?.aborted === true)) {
    // Logged as what it is; the answer most likely reaches nobody, and nothing was charged.
    log('info', 'client_disconnected', { request_id: c.get('requestId'), error: String(err) });
    err = new BodyIncompleteError(err);
  }
  let code: string = 'internal';
  let status = 500;
  let detail = 'An unexpected error occurred.';
  let headers: Record<string, string> = {};
  if (err instanceof AppError) {
    ({ code, status, message: detail } = err);
    if (err instanceof HttpError) headers = err.headers;
  } else if (err instanceof HTTPException && err.status < 500) {
    // Hono's own parsers (malformed JSON and the like) throw these.
    status = err.status;
    code = status === 413 ? 'body_too_large' : status === 415 ? 'unsupported_media_type' : 'invalid_request';
    detail = err.message;
  } else if (isTransient(err)) {
    // A Durable Object that is overloaded or was reset says so (`retryable`, `overloaded`): the same
    // request may succeed when sent again, which a 500 does not say.
    log('warn', 'transient', { request_id: c.get('requestId'), error: String(err) });
    status = 503;
    code = 'service_unavailable';
    detail = 'A storage service is busy or restarting; try again shortly.';
    headers = { 'Retry-After': (err as { overloaded?: boolean }).overloaded === true ? '5' : '1' };
  } else {
    log('error', 'unhandled', { request_id: c.get('requestId'), error: String(err) });
  }
  const body = problemBody(status, code, detail, new URL(c.req.url).pathname);
  return c.json(body, status as 500, { ...headers, 'content-type': PROBLEM_CONTENT_TYPE });
}

/** Cloudflare's mark on an error that retrying may cure (a Durable Object's `retryable` or `overloaded`). */
function isTransient(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const e = err as { retryable?: unknown; overloaded?: unknown };
  return e.retryable === true || e.overloaded === true;
}
