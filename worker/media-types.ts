/**
 * @module
 * Content negotiation: which media type a route answers in, by the request's `Accept` (RFC 9110
 * §12.5.1). Every route that looks at `Accept` goes through {@link negotiate}, so that q-values,
 * `q=0` refusals and wildcards mean the same everywhere.
 */
import { parseAccept } from 'hono/utils/accept';
import type { RunFormat } from '../engine/edge.js';
import { HttpError } from './http-errors.js';

/**
 * The type of `offered` the client prefers, or null when it accepts none of them. Each offered
 * type gets the weight of the most specific range naming it (`image/png`, then `image/*`, then
 * the full wildcard), so `image/png;q=0` refuses PNG whatever wildcard follows. The heaviest wins; on equal weight, the one
 * whose range the client listed first, then the first in `offered`. No header, or one with no
 * media range in it: the first offered type (RFC 9110 lets a server disregard a malformed `Accept`).
 */
export function negotiate(accept: string | undefined, offered: readonly string[]): string | null {
  // parseAccept orders by weight, keeping the header's order among equal weights.
  const ranges = parseAccept(accept ?? '').map((r, order) => ({ type: r.type.toLowerCase(), q: r.q, order }));
  if (ranges.length === 0) return offered[0] ?? null;
  let best: { type: string; q: number; order: number } | null = null;
  for (const type of offered) {
    const wildcard = `${type.slice(0, type.indexOf('/'))}/*`;
    const range =
      ranges.find((r) => r.type === type) ??
      ranges.find((r) => r.type === wildcard) ??
      ranges.find((r) => r.type === '*/*' || r.type === '*');
    if (!range || range.q <= 0) continue;
    if (!best || range.q > best.q || (range.q === best.q && range.order < best.order))
      best = { type, q: range.q, order: range.order };
  }
  return best?.type ?? null;
}

/** What a one-shot segmentation can answer in; the first is the default. */
const RESULT_TYPES: Record<string, RunFormat> = {
  'application/gzip': 'nifti',
  'application/x-nifti': 'nifti',
  'application/json': 'json',
  'image/png': 'png',
};

/** The one-shot result format `Accept` asks for (no header: NIfTI); 406 `not_acceptable` when none fits. */
export function resultFormat(accept: string | undefined): RunFormat {
  const type = negotiate(accept, Object.keys(RESULT_TYPES));
  if (type) return RESULT_TYPES[type];
  throw new HttpError('not_acceptable', 406, `Results come as ${Object.keys(RESULT_TYPES).join(', ')}.`);
}

/** Whether `/v1/usage` answers in CSV; JSON otherwise, also when neither is acceptable (usage has no 406). */
export function usageAsCsv(accept: string | undefined): boolean {
  return negotiate(accept, ['application/json', 'text/csv']) === 'text/csv';
}
