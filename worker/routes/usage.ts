/**
 * @module
 * `GET /v1/usage`: the tenant's charges in a time range, as JSON or (by `Accept: text/csv`) CSV.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { monthOf, type UsageReport } from '../billing/ledger-types.js';
import { BadRequestError } from '../http-errors.js';
import { usageAsCsv } from '../media-types.js';
import { requireScope, tenantOf } from '../middleware/auth.js';
import { problemResponses } from '../problem.js';
import { BEARER, newRouter } from '../router.js';

const MAX_RANGE_MS = 366 * 24 * 3600 * 1000;

export const Charge = z
  .object({
    job_id: z.string(),
    idempotency_key: z.string().nullable(),
    model: z.string().openapi({ description: 'The model id; one price covers all its versions' }),
    model_version: z
      .string()
      .nullable()
      .openapi({ description: 'The release that ran; null for charges recorded before versions' }),
    voxels: z.number().int(),
    amount_micros: z.number().int(),
    currency: z.string(),
    charged_at: z.string().datetime(),
    label: z.string().nullable().openapi({ description: "The creating upload token's label" }),
  })
  .openapi('Charge');

export const Usage = z
  .object({
    from: z.string().datetime(),
    to: z.string().datetime(),
    charges: z.array(Charge),
    totals: z.array(
      z.object({ currency: z.string(), amount_micros: z.number().int(), count: z.number().int() }),
    ),
  })
  .openapi('Usage');

// zod's ISO forms know the calendar: 2026-02-31 is refused, where Date.parse rolled it over to
// March 3 and the report covered days the client did not ask for (found by review).
const instant = z.union(
  [z.iso.date(), z.iso.datetime({ offset: true }), z.iso.datetime({ offset: true, precision: -1 })],
  { error: 'an ISO 8601 date or date-time (with Z or an offset)' },
);

const usage = createRoute({
  method: 'get',
  path: '/v1/usage',
  summary: "The tenant's charges in [from, to) (default: the current UTC month)",
  security: BEARER,
  middleware: [requireScope('usage')] as const,
  request: {
    query: z.object({
      from: instant.optional().openapi({ example: '2026-11-01' }),
      to: instant.optional().openapi({ example: '2026-12-01' }),
    }),
  },
  responses: {
    200: {
      description: 'Charges and totals',
      content: {
        'application/json': { schema: Usage },
        'text/csv': { schema: z.string().openapi({ description: 'One charge per row, with a header row' }) },
      },
    },
    ...problemResponses('unauthorized', 'insufficient_scope'),
  },
});

const CSV_COLUMNS = [
  'job_id',
  'idempotency_key',
  'model',
  'voxels',
  'amount_micros',
  'currency',
  'charged_at',
  'label',
  'model_version',
];

// Text a client chose (an Idempotency-Key, a token's label) must not run as a spreadsheet formula: per OWASP's
// CSV-injection advice a text field starting with = + - @ tab or CR gets a leading quote. Numbers are
// ours and stay numbers. Then RFC 4180: quoted when holding a separator, a quote or a line break.
const csvField = (v: string | number | null) => {
  const s = v === null ? '' : typeof v === 'string' && /^[=+\-@\t\r]/.test(v) ? `'${v}` : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

function toCsv(report: UsageReport): string {
  const rows = report.charges.map((ch) =>
    [
      ch.job_id,
      ch.idempotency_key,
      ch.model,
      ch.voxels,
      ch.amount_micros,
      ch.currency,
      new Date(ch.charged_at).toISOString(),
      ch.label,
      ch.model_version,
    ]
      .map(csvField)
      .join(','),
  );
  return [CSV_COLUMNS.join(','), ...rows].join('\r\n') + '\r\n';
}

/** `GET /v1/usage`. */
export const usageRoutes = newRouter().openapi(usage, async (c) => {
  const q = c.req.valid('query');
  const month = monthOf(Date.now());
  const from = q.from ? Date.parse(q.from) : month.start;
  const to = q.to ? Date.parse(q.to) : month.end;
  if (!(from < to) || to - from > MAX_RANGE_MS) {
    throw new BadRequestError('`from` must be before `to`, at most 366 days apart.');
  }
  const report = await c.env.LEDGER.getByName(tenantOf(c)).usage(from, to);
  if (usageAsCsv(c.req.header('Accept'))) {
    return c.text(toCsv(report), 200, { 'content-type': 'text/csv; charset=utf-8' });
  }
  return c.json(
    {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      charges: report.charges.map((ch) => ({ ...ch, charged_at: new Date(ch.charged_at).toISOString() })),
      totals: report.totals,
    },
    200,
  );
});
