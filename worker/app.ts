import { Hono } from 'hono';
import { NotFoundError } from '../engine/errors.js';
import type { KernelCore } from '../wasm/src/kernel-core.js';
import type { AppEnv, Bindings } from './app-env.js';
import { renderProblem } from './problem.js';
import { healthRoutes } from './routes/health.js';

/** Builds the edge router around a way to obtain the isolate's kernel core. */
export function createApp(kernels: (env: Bindings) => Promise<KernelCore>): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', async (c, next) => {
    c.set('kernels', () => kernels(c.env));
    await next();
  });
  app.route('/', healthRoutes);
  app.notFound((c) =>
    renderProblem(new NotFoundError('route_not_found', `No route for ${c.req.method} ${c.req.path}`), c),
  );
  app.onError(renderProblem);
  return app;
}
