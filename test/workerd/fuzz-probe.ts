/**
 * What one fuzz request is, and the world it is sent into. A probe's random choices are drawn when
 * it is generated (so a seed fixes every request); ids and keys are filled in when it is sent,
 * because the fuzzer may restart the API or the node between probes.
 */

/** Keys and resources a probe may refer to, valid in the current API instance. */
export interface FuzzContext {
  /** A key of tenant `fuzz` with every scope. */
  key: string;
  /** A key of tenant `fuzz` with the `usage` scope only. */
  usageOnlyKey: string;
  /** A key of another tenant. */
  otherKey: string;
  /** An upload of `fuzz` declared at 1024 bytes, nothing sent. */
  emptyUpload: string;
  /** An upload of `fuzz` with 512 of 1024 bytes received. */
  halfUpload: string;
  /** A complete upload of `fuzz` (the 2D slice PNG). */
  completeUpload: string;
  /** A complete upload of the other tenant. */
  otherUpload: string;
  /** A succeeded job of `fuzz` (its result has `resultBytes` bytes). */
  doneJob: string;
  resultBytes: number;
}

/** One HTTP request, resolved against the context. */
export interface HttpRequestSpec {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array | string;
}

/** How a probe reaches the service. */
export type ProbeKind =
  /** One HTTP request with the client's fetch. */
  | { kind: 'http'; request: (ctx: FuzzContext) => HttpRequestSpec }
  /** Upload a body, create a job on it and follow the job to its end. */
  | { kind: 'job'; body: Uint8Array }
  /** Bytes written to a raw TCP connection (see fuzz-raw-socket.ts). */
  | { kind: 'raw'; script: (ctx: FuzzContext) => RawScript };

/** A raw-socket conversation: writes (with pauses), then how the client ends. */
export interface RawScript {
  writes: (Uint8Array | string | { pauseMs: number })[];
  /** `read`: half-close and read the answer; `abort`: destroy the socket (the client vanishes). */
  end: 'read' | 'abort' | 'read-open';
}

/** One fuzz request. */
export type Probe = ProbeKind & {
  id: number;
  category: string;
  /** The mutation, short, for failure messages. */
  what: string;
  /** May run a model: sent alone, with the long timeout. */
  heavy: boolean;
};

/** Builds probes with increasing ids. */
export class ProbeList {
  readonly probes: Probe[] = [];
  add(category: string, what: string, kind: ProbeKind, heavy = false): void {
    this.probes.push({ id: this.probes.length, category, what, heavy, ...kind });
  }
  http(category: string, what: string, request: (ctx: FuzzContext) => HttpRequestSpec, heavy = false): void {
    this.add(category, what, { kind: 'http', request }, heavy);
  }
}

/** `Authorization: Bearer <key>`. */
export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** A short printable description of a body or header value. */
export function describeBytes(body: Uint8Array | string | undefined): string {
  if (body === undefined) return 'no body';
  if (typeof body === 'string') {
    const s = JSON.stringify(body.length > 80 ? `${body.slice(0, 80)}…` : body);
    return `${body.length} chars ${s}`;
  }
  return `${body.byteLength} bytes`;
}
