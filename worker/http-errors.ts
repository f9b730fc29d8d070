/**
 * @module
 * HTTP-only failures (authentication, conflicts, payment), in the one {@link AppError} hierarchy so
 * that the one error renderer handles them. Headers travel with the error (WWW-Authenticate,
 * Upload-Offset) because the renderer builds the response.
 */
import { AppError } from '../engine/edge.js';

/** An AppError that also sets response headers. */
export class HttpError extends AppError {
  constructor(
    code: string,
    status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(code, status, message);
  }
}

/** The request is malformed (schema validation, bad header syntax). */
export class BadRequestError extends HttpError {
  constructor(message: string, code = 'invalid_request') {
    super(code, 400, message);
  }
}

/** The path exists, with other methods (`allow`). */
export class MethodNotAllowedError extends HttpError {
  constructor(method: string, path: string, allow: string[]) {
    super('method_not_allowed', 405, `${path} takes ${allow.join(', ')}, not ${method}.`, {
      Allow: allow.join(', '),
    });
  }
}

/** No valid API key. */
export class UnauthorizedError extends HttpError {
  constructor(message: string) {
    super('unauthorized', 401, message, { 'WWW-Authenticate': 'Bearer realm="nnsam-edge"' });
  }
}

/** The key is valid but lacks the scope the route needs. */
export class ForbiddenError extends HttpError {
  constructor(scope: string, message = `This API key lacks the '${scope}' scope.`) {
    super('insufficient_scope', 403, message, {
      'WWW-Authenticate': `Bearer realm="nnsam-edge", error="insufficient_scope", scope="${scope}"`,
    });
  }
}

/** The request conflicts with the resource's current state (e.g. an upload offset). */
export class ConflictError extends HttpError {
  constructor(code: string, message: string, headers: Record<string, string> = {}) {
    super(code, 409, message, headers);
  }
}

/** The credential is valid but what it asks is outside its grant (an upload token's models). */
export class GrantError extends HttpError {
  constructor(code: string, message: string) {
    super(code, 403, message);
  }
}

/** The tenant's monthly budget would be exceeded. */
export class PaymentRequiredError extends HttpError {
  constructor(message: string) {
    super('budget_exceeded', 402, message);
  }
}

/** The tenant already runs as many jobs as it may. */
export class TooManyRequestsError extends HttpError {
  constructor(message: string, retryAfterSeconds: number) {
    super('concurrency_limit', 429, message, { 'Retry-After': String(retryAfterSeconds) });
  }
}

/** No inference node can take the request now. */
export class ServiceUnavailableError extends HttpError {
  constructor(code: string, message: string, retryAfterSeconds: number) {
    super(code, 503, message, { 'Retry-After': String(retryAfterSeconds) });
  }
}

/** A byte range outside the resource. */
export class RangeNotSatisfiableError extends HttpError {
  constructor(size: number) {
    super('range_not_satisfiable', 416, `The result has ${size} bytes.`, {
      'Content-Range': `bytes */${size}`,
    });
  }
}

/** What was asked for existed once and has expired. */
export class GoneError extends HttpError {
  constructor(code: string, message: string) {
    super(code, 410, message);
  }
}

/** A run passed its deadline and was stopped (uncharged). */
export class TimeoutError extends HttpError {
  constructor(code: string, message: string) {
    super(code, 504, message);
  }
}

/**
 * The request body broke off before its end (the client hung up or the connection dropped). The
 * answer most likely reaches nobody; it is still a problem+json, and nothing was charged.
 */
export class BodyIncompleteError extends HttpError {
  constructor(cause: unknown) {
    super(
      'request_body_incomplete',
      400,
      'The request body ended before it was complete; nothing was done or charged.',
    );
    this.cause = cause;
  }
}
