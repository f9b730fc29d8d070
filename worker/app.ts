import { NotFoundError, type KernelCore } from '../engine/edge.js';
import { OpenAPIHono } from '@hono/zod-openapi';
import { secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from './app-env.js';
import type { ApiConfig } from './config.js';
import { drainUnread, requestBytes, watchBody } from './http-body.js';
import { requestLogger } from './middleware/logger.js';
import { requestId } from './middleware/request-id.js';
import { MethodNotAllowedError } from './http-errors.js';
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

/**
 * The most a JSON request body may hold: the API's JSON bodies (a job, an upload's declaration, an
 * upload token's request) are a few hundred bytes.
 */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

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
  app.use(
    '*',
    requestId,
    requestLogger,
    async function context(c, next) {
      c.set('kernels', () => deps.kernels(c.env));
      c.set('config', deps.config(c.env));
      await next();
    },
    // Upload bytes are bounded by their upload's declared length instead (worker/routes/uploads.ts),
    // so that a tus client may send a whole file in one request.
    watchBody((c) =>
      isUploadBytes(c.req.path, c.req.header('content-type')) ? null : c.get('config').maxBodyBytes,
    ),
    drainUnread,
  );
  app.use('*', async function jsonBody(c, next) {
    // JSON bodies are read here, through the one body reader, so that a body that breaks off is our
    // 400 request_body_incomplete and not a stream error inside the validator, which then parses
    // the cached bytes. This runs before any route checks the caller, so it holds no more than the
    // largest JSON body a route takes.
    if (
      c.req.method !== 'GET' &&
      c.req.method !== 'HEAD' &&
      /json/i.test(c.req.header('content-type') ?? '')
    ) {
      await requestBytes(c, MAX_JSON_BODY_BYTES);
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
  const methodsOf = routeMethods(app);
  app.notFound((c) => {
    const allow = methodsOf(c.req.path);
    return renderProblem(
      allow.length > 0
        ? new MethodNotAllowedError(c.req.method, c.req.path, allow)
        : new NotFoundError('route_not_found', `No route for ${c.req.method} ${c.req.path}`),
      c,
    );
  });
  app.onError(renderProblem);
  return app;
}

/**
 * The methods `app`'s routes take on a path, for a 405's Allow (HEAD wherever GET is: Hono answers it
 * with the GET route). Read from the routes once, when first asked: every route is registered by then.
 */
function routeMethods(app: OpenAPIHono<AppEnv>): (path: string) => string[] {
  let table: { pattern: RegExp; method: string }[] | undefined;
  return (path) => {
    table ??= app.routes
      .filter((r) => r.method !== 'ALL' && !r.path.includes('*'))
      .map((r) => ({
        method: r.method,
        pattern: new RegExp(
          `^${r.path
            .split('/')
            .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
            .join('/')}$`,
        ),
      }));
    const methods = new Set(table.filter((r) => r.pattern.test(path)).map((r) => r.method));
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  };
}
