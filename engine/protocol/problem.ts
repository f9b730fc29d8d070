/**
 * @module
 * RFC 9457 problem+json as both sides of the seam write it: the Worker's error renderer and the
 * node's refusals build their bodies here, so a client (or the Worker reading a node's refusal)
 * sees one shape and one `type` base.
 */

/** Base URI of problem types; `type` is this plus the error's stable code. */
export const PROBLEM_BASE = 'https://nnsam-edge.dev/problems/';

/** The media type of a problem body. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** A problem body. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  406: 'Not Acceptable',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  // tus 1.0.0's own status for an Upload-Checksum that does not match.
  460: 'Checksum Mismatch',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The problem body of `code` with `status`; the title is the status's reason phrase. */
export function problemBody(status: number, code: string, detail: string, instance: string): Problem {
  return { type: PROBLEM_BASE + code, title: TITLES[status] ?? 'Error', status, detail, instance };
}
