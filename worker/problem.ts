import type { Context } from 'hono';
import { AppError } from '../engine/errors.js';

/** Base URI of our problem types; `type` is this plus the error's stable code. */
export const PROBLEM_BASE = 'https://nnsam-edge.dev/problems/';

/** Renders any thrown value as RFC 9457 problem+json: AppErrors with their status, the rest as 500. */
export function renderProblem(err: unknown, c: Context): Response {
  const known = err instanceof AppError;
  const status = known ? err.status : 500;
  const body = {
    type: PROBLEM_BASE + (known ? err.code : 'internal'),
    title: known ? err.name : 'Internal error',
    status,
    detail: known ? err.message : 'An unexpected error occurred.',
    instance: new URL(c.req.url).pathname,
  };
  if (!known) console.error(JSON.stringify({ level: 'error', msg: 'unhandled', error: String(err) }));
  return c.json(body, status as 500, { 'content-type': 'application/problem+json' });
}
