/**
 * @module
 * A typed client of the nnsam-edge HTTP API, including the resumable upload loop, spoken as tus
 * 1.0.0 (creation, then chunks with sha256 checksums), and after a dropped connection or a refused chunk, asking the server for its offset and
 * going on from there. Requests that cost money (`segment`, `createJob`) always carry an
 * `Idempotency-Key` (the caller's or a new one) and are retried with that same key when the
 * answer is not the API's own (a dropped connection, a proxy's 5xx without `X-Request-Id`, as
 * `wrangler dev` gives when its Worker restarts), when every node is busy (503 with
 * Retry-After), or while the first attempt is still running (409 `idempotency_key_in_flight`):
 * the server charges a key once, so the retry is safe (docs/billing.md).
 */
import type {
  ApiJob,
  ApiJobCreate,
  ApiJobEvent,
  ApiModel,
  ApiProblem,
  ApiUpload,
  ApiTusCapabilities,
  ApiUploadCreate,
  ApiUploadTokenCreate,
  ApiUploadTokenMinted,
  ApiUsage,
} from './api-types.js';
import { parseServerSentEvents } from './server-sent-events.js';

/** An error answer of the API, with its problem+json body. */
export class ApiProblemError extends Error {
  /** The stable code: the last segment of the problem `type`. */
  readonly code: string;
  /** The `Idempotency-Key` of the paid request that failed ({@link idempotencyKeyOf}). */
  idempotencyKey?: string;
  constructor(
    readonly problem: ApiProblem,
    readonly headers: Headers,
  ) {
    super(`${problem.status} ${problem.type}: ${problem.detail}`);
    this.name = 'ApiProblemError';
    this.code = problem.type.slice(problem.type.lastIndexOf('/') + 1);
  }
}

/** Where the API is and how to reach it. */
export interface NnsamClientOptions {
  baseUrl: string;
  /** An API key, or an upload token (a browser's: uploads and its own jobs only). */
  apiKey?: string;
  /** A fetch implementation (default: the global one). */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** Retries of a paid request with its key (default 4). */
  retries?: number;
  /** Waits between those retries (default: a timer); tests pass their own. */
  sleep?: (ms: number) => Promise<void>;
}

/** Options of {@link NnsamClient.upload}. */
export interface ResumableUploadOptions {
  contentType: string;
  /** Bytes per PATCH (default 4 MiB; the server caps it). */
  chunkBytes?: number;
  /** Failed chunk attempts tolerated in a row before giving up (default 5). */
  retries?: number;
}

const hex = (buf: ArrayBuffer) =>
  [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
const base64 = (buf: ArrayBuffer) => btoa(String.fromCharCode(...new Uint8Array(buf)));
const TUS = { 'tus-resumable': '1.0.0' };
const tusPair = (key: string, value: string) => `${key} ${btoa(value)}`;

// Worth retrying from the server's offset: a lost connection, a server error, a chunk corrupted in
// transit, an offset the server does not have. Everything else is the caller's to fix.
function retryable(err: unknown): boolean {
  if (!(err instanceof ApiProblemError)) return err instanceof TypeError;
  return (
    err.problem.status >= 500 ||
    err.code === 'chunk_checksum_mismatch' ||
    err.code === 'upload_offset_conflict'
  );
}

/** Longest wait between two retries of a paid request, whatever Retry-After says. */
const MAX_RETRY_WAIT_MS = 10_000;

/**
 * How long to wait before sending a paid request again with its key, or null when its outcome is
 * final. A response without X-Request-Id did not come from the API (every API answer has one).
 */
function retryDelay(err: unknown, attempt: number): number | null {
  const backoff = Math.min(MAX_RETRY_WAIT_MS, 500 * 2 ** attempt);
  if (!(err instanceof ApiProblemError)) return err instanceof TypeError ? backoff : null;
  const fromServer = Number(err.headers.get('retry-after')) * 1000;
  const wait = fromServer > 0 ? Math.min(MAX_RETRY_WAIT_MS, fromServer) : backoff;
  if (err.problem.status >= 500 && !err.headers.has('x-request-id')) return wait;
  const retryable = [
    'no_inference_node',
    'idempotency_key_in_flight',
    'job_creation_unsettled',
    'charge_unsettled',
    // A busy or restarting store, nothing charged (worker/problem.ts).
    'service_unavailable',
  ];
  if (retryable.includes(err.code)) return wait;
  return null;
}

/**
 * The `Idempotency-Key` a paid request that threw `err` was sent with, the client's own when the caller
 * gave none: sending the request again with it later gets the result of a run that was charged (a
 * `charge_unsettled` answer, or a connection lost with the result on its way). Any error a paid method
 * throws carries it.
 */
export function idempotencyKeyOf(err: unknown): string | undefined {
  return typeof err === 'object' &&
    err !== null &&
    'idempotencyKey' in err &&
    typeof err.idempotencyKey === 'string'
    ? err.idempotencyKey
    : undefined;
}

/** The nnsam-edge API. */
export class NnsamClient {
  private readonly fetcher: (url: string, init: RequestInit) => Promise<Response>;

  constructor(private readonly options: NnsamClientOptions) {
    this.fetcher = options.fetch ?? ((url, init) => fetch(url, init));
  }

  /**
   * A paid request: sent with `key` (a new one if absent) and retried with it while that is safe. Its
   * answer is `read` inside the retries: a body cut off on its way (charged, found by review) is sent
   * for again with the key, and the server replays it.
   */
  private async paid<T>(
    path: string,
    init: RequestInit,
    key: string | undefined,
    read: (res: Response) => Promise<T>,
  ): Promise<T> {
    const headers = new Headers(init.headers);
    const idempotencyKey = key ?? crypto.randomUUID();
    headers.set('idempotency-key', idempotencyKey);
    const sleep = this.options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    for (let attempt = 0; ; attempt++) {
      try {
        return await read(await this.call('POST', path, { ...init, headers }));
      } catch (err) {
        const wait = retryDelay(err, attempt);
        if (wait === null || attempt >= (this.options.retries ?? 4)) {
          // A frozen error (a proxy's, say) is thrown as it is, without the key.
          if (typeof err === 'object' && err !== null && Object.isExtensible(err)) {
            Object.assign(err, { idempotencyKey });
          }
          throw err;
        }
        await sleep(wait);
      }
    }
  }

  private async call(method: string, path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.options.apiKey) headers.set('Authorization', `Bearer ${this.options.apiKey}`);
    const res = await this.fetcher(this.options.baseUrl.replace(/\/$/, '') + path, {
      ...init,
      method,
      headers,
    });
    if (res.ok) return res;
    const text = await res.text();
    let problem: ApiProblem;
    try {
      problem = JSON.parse(text) as ApiProblem;
    } catch {
      problem = {
        type: 'about:blank',
        title: res.statusText,
        status: res.status,
        detail: text,
        instance: path,
      };
    }
    throw new ApiProblemError(problem, res.headers);
  }

  /** `GET /v1/models`. */
  async models(): Promise<ApiModel[]> {
    return ((await (await this.call('GET', '/v1/models')).json()) as { models: ApiModel[] }).models;
  }

  /** `OPTIONS /v1/uploads`: the tus version, extensions, largest upload and checksum algorithms. */
  async uploadCapabilities(): Promise<ApiTusCapabilities> {
    const h = (await this.call('OPTIONS', '/v1/uploads')).headers;
    const list = (name: string) => (h.get(name) ?? '').split(',').map((s) => s.trim());
    return {
      version: h.get('tus-version') ?? '',
      extensions: list('tus-extension'),
      maxSize: Number(h.get('tus-max-size')),
      checksumAlgorithms: list('tus-checksum-algorithm'),
    };
  }

  /** `POST /v1/uploads` as tus creation: the declaration in `Upload-Length` and `Upload-Metadata`. */
  async createUpload(body: ApiUploadCreate): Promise<ApiUpload> {
    const res = await this.call('POST', '/v1/uploads', {
      headers: {
        ...TUS,
        'upload-length': String(body.length),
        'upload-metadata': [tusPair('sha256', body.sha256), tusPair('content_type', body.content_type)].join(
          ',',
        ),
      },
    });
    return (await res.json()) as ApiUpload;
  }

  /** `GET /v1/uploads/{id}`. */
  async uploadStatus(id: string): Promise<ApiUpload> {
    return (await (await this.call('GET', `/v1/uploads/${id}`, { headers: TUS })).json()) as ApiUpload;
  }

  /** `HEAD /v1/uploads/{id}`: the server's offset. */
  async uploadOffset(id: string): Promise<number> {
    return Number(
      (await this.call('HEAD', `/v1/uploads/${id}`, { headers: TUS })).headers.get('Upload-Offset'),
    );
  }

  /** `PATCH /v1/uploads/{id}`: one chunk at `offset`; resolves to the new offset. */
  async sendChunk(id: string, offset: number, chunk: Uint8Array<ArrayBuffer>): Promise<number> {
    const digest = await crypto.subtle.digest('SHA-256', chunk);
    const res = await this.call('PATCH', `/v1/uploads/${id}`, {
      headers: {
        ...TUS,
        'content-type': 'application/offset+octet-stream',
        'upload-offset': String(offset),
        'upload-checksum': `sha256 ${base64(digest)}`,
      },
      body: chunk,
    });
    return Number(res.headers.get('Upload-Offset'));
  }

  /** `DELETE /v1/uploads/{id}` (tus termination). */
  async deleteUpload(id: string): Promise<void> {
    await this.call('DELETE', `/v1/uploads/${id}`, { headers: TUS });
  }

  /** `POST /v1/upload-tokens` (an API key only): a short-lived token to hand to one browser. */
  async createUploadToken(body: ApiUploadTokenCreate): Promise<ApiUploadTokenMinted> {
    const res = await this.call('POST', '/v1/upload-tokens', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return (await res.json()) as ApiUploadTokenMinted;
  }

  /** `DELETE /v1/upload-tokens/{id}`: the token stops working at once. */
  async revokeUploadToken(id: string): Promise<void> {
    await this.call('DELETE', `/v1/upload-tokens/${id}`);
  }

  /** Uploads `bytes` resumably; after a failed chunk it resumes from the server's offset. */
  async upload(bytes: Uint8Array<ArrayBuffer>, options: ResumableUploadOptions): Promise<ApiUpload> {
    const sha256 = hex(await crypto.subtle.digest('SHA-256', bytes));
    const upload = await this.createUpload({
      length: bytes.byteLength,
      content_type: options.contentType,
      sha256,
    });
    return this.resume(upload.id, bytes, options);
  }

  /** Sends the rest of `bytes` to an existing upload, from the server's offset. */
  async resume(
    id: string,
    bytes: Uint8Array<ArrayBuffer>,
    options: ResumableUploadOptions,
  ): Promise<ApiUpload> {
    const size = options.chunkBytes ?? 4 * 2 ** 20;
    let failures = 0;
    let offset = await this.uploadOffset(id);
    while (offset < bytes.byteLength) {
      try {
        offset = await this.sendChunk(id, offset, bytes.subarray(offset, offset + size));
        failures = 0;
      } catch (err) {
        if (!retryable(err) || ++failures > (options.retries ?? 5)) throw err;
        offset = await this.uploadOffset(id);
      }
    }
    return this.uploadStatus(id);
  }

  /**
   * `POST /v1/jobs`, retried safely (module notes); with `idempotencyKey`, a later call with the
   * same key returns the first job too.
   */
  async createJob(body: ApiJobCreate, idempotencyKey?: string): Promise<ApiJob> {
    return this.paid(
      '/v1/jobs',
      { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
      idempotencyKey,
      async (res) => (await res.json()) as ApiJob,
    );
  }

  /** `GET /v1/jobs/{id}`. */
  async job(id: string): Promise<ApiJob> {
    return (await (await this.call('GET', `/v1/jobs/${id}`)).json()) as ApiJob;
  }

  /** `GET /v1/jobs/{id}/events`: the job's progress until its final event. */
  async *jobEvents(id: string): AsyncGenerator<ApiJobEvent> {
    const res = await this.call('GET', `/v1/jobs/${id}/events`, { headers: { accept: 'text/event-stream' } });
    for await (const e of parseServerSentEvents(res.body!)) {
      yield {
        event: e.event as ApiJobEvent['event'],
        job: e.event === 'deleted' ? null : (JSON.parse(e.data) as ApiJob),
      };
    }
  }

  /** `GET /v1/jobs/{id}/result`: the label map (.nii.gz) or, with `range`, bytes `[start, end]`. */
  async jobResult(id: string, range?: { start: number; end?: number }): Promise<Uint8Array> {
    const headers: Record<string, string> = {};
    if (range) headers.range = `bytes=${range.start}-${range.end ?? ''}`;
    return new Uint8Array(await (await this.call('GET', `/v1/jobs/${id}/result`, { headers })).arrayBuffer());
  }

  /** `DELETE /v1/jobs/{id}`: cancels the job and deletes it and its result. */
  async deleteJob(id: string): Promise<void> {
    await this.call('DELETE', `/v1/jobs/${id}`);
  }

  /** Follows a job's events until it ends; resolves to the final job. */
  async waitForJob(id: string, onProgress?: (job: ApiJob) => void): Promise<ApiJob> {
    for await (const e of this.jobEvents(id)) {
      if (e.event === 'progress' && e.job) onProgress?.(e.job);
      else if (e.job) return e.job;
      else break;
    }
    return this.job(id);
  }

  /**
   * `POST /v1/segment`: one small image in, the label map (`accept` 'application/gzip', the default),
   * a PNG ('image/png', 2D) or the statistics ('application/json') out. Retried safely (module
   * notes); `replayed`: the server answered a stored result of the same key, charged once before.
   * `model` is a reference: `<id>` (its current release) or `<id>@<version>`.
   */
  async segment(
    model: string,
    image: Uint8Array<ArrayBuffer>,
    options: { accept?: 'application/gzip' | 'image/png' | 'application/json'; idempotencyKey?: string } = {},
  ): Promise<{
    body: Uint8Array;
    contentType: string;
    chargeMicros: number;
    voxels: number;
    replayed: boolean;
    /** Sentences about the input: modality mismatch, NaN/infinite voxels read as 0 (`X-Input-Warnings`). */
    warnings: string[];
    /** The model id and release that ran (`X-Model`, `X-Model-Version`). */
    model: string;
    modelVersion: string;
  }> {
    return this.paid(
      `/v1/segment${query({ model })}`,
      {
        headers: { 'content-type': 'application/octet-stream', accept: options.accept ?? 'application/gzip' },
        body: image,
      },
      options.idempotencyKey,
      async (res) => ({
        body: new Uint8Array(await res.arrayBuffer()),
        contentType: res.headers.get('content-type') ?? '',
        chargeMicros: Number(res.headers.get('x-charge-micros')),
        voxels: Number(res.headers.get('x-voxels')),
        replayed: res.headers.get('idempotent-replayed') === 'true',
        warnings: JSON.parse(res.headers.get('x-input-warnings') ?? '[]') as string[],
        model: res.headers.get('x-model') ?? '',
        modelVersion: res.headers.get('x-model-version') ?? '',
      }),
    );
  }

  /** `GET /v1/usage` as JSON. */
  async usage(range: { from?: string; to?: string } = {}): Promise<ApiUsage> {
    const res = await this.call('GET', `/v1/usage${query(range)}`, {
      headers: { accept: 'application/json' },
    });
    return (await res.json()) as ApiUsage;
  }

  /** `GET /v1/usage` as CSV. */
  async usageCsv(range: { from?: string; to?: string } = {}): Promise<string> {
    return (await this.call('GET', `/v1/usage${query(range)}`, { headers: { accept: 'text/csv' } })).text();
  }
}

function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams(
    Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const s = q.toString();
  return s ? `?${s}` : '';
}
