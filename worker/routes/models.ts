import { createRoute, z } from '@hono/zod-openapi';
import { modelPrice, readPriceTable } from '../billing/price.js';
import { CATALOG } from '../catalog/model-catalog.js';
import { problemResponses } from '../problem.js';
import { newRouter } from '../router.js';

export const Price = z
  .object({ currency: z.string(), base_micros: z.number().int(), per_megavoxel_micros: z.number().int() })
  .openapi('Price');

export const Model = z
  .object({
    id: z.string(),
    name: z.string(),
    version: z.string(),
    configuration: z.string(),
    modality: z.array(z.string()),
    labels: z.record(z.string(), z.union([z.number(), z.array(z.number())])),
    accepted_inputs: z.array(z.string()),
    spacing: z.array(z.number()),
    stand_in: z.boolean(),
    price: Price.nullable().openapi({ description: 'null: not priced, so not yet offered for jobs' }),
  })
  .openapi('Model');

const list = createRoute({
  method: 'get',
  path: '/v1/models',
  summary: 'The models on offer, with their prices (public)',
  responses: {
    200: {
      description: 'Every model',
      content: { 'application/json': { schema: z.object({ models: z.array(Model) }).openapi('ModelList') } },
    },
    ...problemResponses(),
  },
});

/** `GET /v1/models`. */
export const modelRoutes = newRouter().openapi(list, async (c) => {
  const table = await readPriceTable(c.env.KEYS, c.get('config').defaultPrices);
  return c.json({ models: CATALOG.map((m) => ({ ...m, price: modelPrice(table, m.id) })) }, 200);
});
