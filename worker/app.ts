import { LimitError, NotFoundError, type KernelCore } from '../engine/edge.js';
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from './app-env.js';
import type { ApiConfig } from './config.js';
import { requestBytes, watchBody } from './http-body.js';
import { requestLogger } from './middleware/logger.js';
import { requestId } from './middleware/request-id.js';
import { problemResponses, renderProblem } from './problem.js';
import { newRouter } from './router.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { modelRoutes } from './routes/models.js';
import { segmentRoutes } from './routes/segment.js';
import { uploadTokenRoutes } from './routes/upload-tokens.js';
import { uploadRoutes } from './routes/uploads.js';
import { usageRoutes } from './routes/usage.js';
import { CHUNK_TYPE } from './uploads/tus.js';
import { SERVICE_VERSION } from './version.js';

const isUploadBytes = (path: string, contentType: string | undefined) =>
  (path === '/v1/uploads' || path.startsWith('/v1/uploads/')) &&
  (contentType ?? '').split(';')[0].trim().toLowerCase() === CHUNK_TYPE;

/** What the edge router needs from its entry point, per isolate. */
export interface AppDeps {
  kernels: (env: Env) => Promise<KernelCore>;
  config: (env: Env) => ApiConfig;
}

/** Builds the edge router: middleware, the `/v1` routes, `/openapi.json` and the one error renderer. */
export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = newRouter();
  // On every API response, errors included: nosniff, so that no browser renders a result or an
  // echoed upload as a page, and no framing or cross-origin embedding of API answers. The page (/app)
  // is a static asset with its own headers (web/_headers).
  app.use('*', secureHeaders());
  app.use('*', requestId, requestLogger, watchBody, async function context(c, next) {
    c.set('kernels', () => deps.kernels(c.env));
    c.set('config', deps.config(c.env));
    await next();
  });
  app.use('*', (c, next) =>
    // Upload bytes are bounded by their upload's declared length instead (worker/routes/uploads.ts),
    // so that a tus client may send a whole file in one request.
    isUploadBytes(c.req.path, c.req.header('content-type'))
      ? next()
      : bodyLimit({
          maxSize: c.get('config').maxBodyBytes,
          onError: () => {
            throw new LimitError(
              'body_too_large',
              `A request body may hold at most ${c.get('config').maxBodyBytes} bytes.`,
            );
          },
        })(c, next),
  );
  app.use('*', async function jsonBody(c, next) {
    // JSON bodies are read here, through the one body reader, so that a body that breaks off is our
    // 400 request_body_incomplete and not a stream error inside the validator, which then parses
    // the cached bytes.
    if (
      c.req.method !== 'GET' &&
      c.req.method !== 'HEAD' &&
      /json/i.test(c.req.header('content-type') ?? '')
    ) {
      await requestBytes(c, c.get('config').maxBodyBytes);
    }
    await next();
  });
  app.route('/', healthRoutes);
  app.route('/', modelRoutes);
  app.route('/', uploadRoutes);
  app.route('/', uploadTokenRoutes);
  app.route('/', jobRoutes);
  app.route('/', segmentRoutes);
  app.route('/', usageRoutes);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description:
      'An API key made with `nnsam keys create`, or, on the upload and job routes only, an upload token from `POST /v1/upload-tokens`.',
  });
  // Hono answers HEAD with the GET route minus its body; the document says so explicitly.
  app.openAPIRegistry.registerPath({
    method: 'head',
    path: '/v1/uploads/{id}',
    summary: 'The current offset in headers (tus HEAD)',
    security: [{ bearer: [] }],
    responses: {
      200: {
        description:
          'Upload-Offset, Upload-Length, Upload-Expires, Upload-Metadata (as declared) and Tus-Resumable headers',
      },
      ...problemResponses(
        'unauthorized',
        'insufficient_scope',
        'upload_not_found',
        'tus_version_unsupported',
      ),
    },
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'nnsam-edge API',
      version: SERVICE_VERSION,
      description: 'nnSAM / nnU-Net segmentation at the edge. Every error is application/problem+json.',
    },
  });
  app.notFound((c) =>
    renderProblem(new NotFoundError('route_not_found', `No route for ${c.req.method} ${c.req.path}`), c),
  );
  app.onError(renderProblem);
  return app;
}
