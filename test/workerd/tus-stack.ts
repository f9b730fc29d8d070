/**
 * An HTTP stack for tus-js-client (in Node) around its own: it adds the checksum extension's
 * `Upload-Checksum` to every PATCH, which tus-js-client does not send itself, and lets a test
 * meddle with one request the way a network or a proxy would: send it twice, send it slowly,
 * or spoil its checksum.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DefaultHttpStack, type HttpRequest, type HttpResponse, type HttpStack } from 'tus-js-client';

/** What to do to the n-th PATCH (counted from 1), and what was seen. */
export interface Meddling {
  /** Send this PATCH a second time, byte for byte, and answer the second response. */
  duplicate?: number;
  /** Send this PATCH's checksum for other bytes. */
  wrongChecksum?: number;
  /** Send every PATCH body in 64 KiB pieces, this many milliseconds apart. */
  slowMs?: number;
  /** Send no Upload-Checksum (as tus-js-client alone does): the server then keeps a cut body's bytes. */
  noChecksum?: boolean;
}

/** One PATCH as sent: its Upload-Offset and the status and Upload-Offset of the answer. */
export interface SentPatch {
  offset: number;
  status: number | null;
  answeredOffset: number | null;
}

function slowly(bytes: Uint8Array, pauseMs: number): Readable {
  let at = 0;
  return new Readable({
    read() {
      if (at >= bytes.byteLength) {
        this.push(null);
        return;
      }
      const piece = Buffer.from(bytes.subarray(at, at + 65536));
      at += piece.byteLength;
      setTimeout(() => this.push(piece), pauseMs);
    },
  });
}

/** The stack, and the PATCHes it sent (a duplicate is listed twice). */
export function meddlingStack(m: Meddling = {}): { stack: HttpStack; patches: SentPatch[] } {
  const inner = new DefaultHttpStack({});
  const patches: SentPatch[] = [];
  let n = 0;
  const stack: HttpStack = {
    getName: () => 'meddling',
    createRequest(method: string, url: string): HttpRequest {
      const headers = new Map<string, string>();
      let current = inner.createRequest(method, url);
      let progress: (sent: number) => void = () => {};
      const sendOnce = async (body: unknown): Promise<HttpResponse> => {
        current = inner.createRequest(method, url);
        for (const [k, v] of headers) current.setHeader(k, v);
        current.setProgressHandler(progress);
        let payload = body;
        if (m.slowMs !== undefined && body instanceof Uint8Array && body.byteLength > 0) {
          current.setHeader('Content-Length', String(body.byteLength));
          payload = slowly(body, m.slowMs);
        }
        const sent: SentPatch = {
          offset: Number(headers.get('Upload-Offset')),
          status: null,
          answeredOffset: null,
        };
        if (method === 'PATCH') patches.push(sent);
        const res = await current.send(payload);
        sent.status = res.getStatus();
        const answered = res.getHeader('Upload-Offset');
        sent.answeredOffset = answered === undefined ? null : Number(answered);
        return res;
      };
      return {
        getMethod: () => method,
        getURL: () => url,
        setHeader: (k, v) => void headers.set(k, v),
        getHeader: (k) => headers.get(k),
        setProgressHandler: (handler) => void (progress = handler),
        abort: () => current.abort(),
        getUnderlyingObject: () => current.getUnderlyingObject(),
        async send(body: unknown): Promise<HttpResponse> {
          if (method !== 'PATCH' || !(body instanceof Uint8Array)) return sendOnce(body);
          n += 1;
          if (m.noChecksum) return sendOnce(body);
          const digest = createHash('sha256')
            .update(n === m.wrongChecksum ? Buffer.concat([body, Buffer.from('x')]) : body)
            .digest('base64');
          headers.set('Upload-Checksum', `sha256 ${digest}`);
          const res = await sendOnce(body);
          return n === m.duplicate ? sendOnce(body) : res;
        },
      };
    },
  };
  return { stack, patches };
}
