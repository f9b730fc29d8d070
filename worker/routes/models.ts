import { createRoute, z } from '@hono/zod-openapi';
import { modelPrice, readPriceTable } from '../billing/price.js';
import { CATALOG } from '../catalog/model-catalog.js';
import { problemResponses } from '../problem.js';
import { newRouter } from '../router.js';

export const Price = z
  .object({ currency: z.string(), base_micros: z.number().int(), per_megavoxel_micros: z.number().int() })
  .openapi('Price');

const Labels = z.record(z.string(), z.union([z.number(), z.array(z.number())]));

export const ModelVersion = z
  .object({
    version: z.string().openapi({ example: '1.2.0', description: 'What `model=<id>@<version>` takes' }),
    reference: z.string().openapi({ example: 'brain-wm-2d@1.2.0' }),
    current: z.boolean().openapi({ description: 'The release `model=<id>` runs' }),
    build: z.string().openapi({ description: '`<version>+sha256.<12 hex digits of model.onnx>`' }),
    labels: Labels,
  })
  .openapi('ModelVersion');

export const Model = z
  .object({
    id: z.string(),
    name: z.string(),
    version: z.string().openapi({ description: "The current release's build (see `versions`)" }),
    versions: z.array(ModelVersion).openapi({
      description:
        'Every release on offer, current first (docs/model-versions.md); the price covers them all',
    }),
    configuration: z.string(),
    modality: z.array(z.string()),
    labels: Labels,
    accepted_inputs: z.array(z.string()),
    spacing: z.array(z.number()),
    stand_in: z.boolean(),
    price: Price.nullable().openapi({
      description: 'One price per model id, for every version; null: not priced, so not yet offered for jobs',
    }),
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
