/**
 * @module
 * The one way to make a router: an OpenAPIHono whose schema failures become 400 `invalid_request`
 * problems, so that validation errors look like every other error.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from './app-env.js';
import { BadRequestError } from './http-errors.js';

/** A router whose routes validate with zod and document themselves in the OpenAPI registry. */
export function newRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const issues = result.error.issues.map(
          (i) => `${[result.target, ...i.path].join('.')}: ${i.message}`,
        );
        throw new BadRequestError(`Invalid request: ${issues.join('; ')}`);
      }
    },
  });
}

/** The security requirement of routes behind an API key. */
export const BEARER = [{ bearer: [] }];
