/**
 * A tus-js-client HTTP stack that adds the checksum extension's `Upload-Checksum: sha256 <base64>`
 * to every PATCH (tus-js-client does not send it itself), so that a chunk spoiled in transit is
 * refused (460) and sent again instead of being kept (docs/uploads.md).
 */
import { DefaultHttpStack, type HttpRequest, type HttpStack } from 'tus-js-client';

async function sha256Base64(bytes: ArrayBuffer): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  let binary = '';
  for (const b of digest) binary += String.fromCharCode(b);
  return btoa(binary);
}

async function bytesOf(body: unknown): Promise<ArrayBuffer | null> {
  if (body instanceof Blob) return body.arrayBuffer();
  if (body instanceof ArrayBuffer) return body;
  if (ArrayBuffer.isView(body))
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength).slice().buffer;
  return null;
}

export function checksumStack(): HttpStack {
  const inner = new DefaultHttpStack({});
  return {
    getName: () => 'sha256-checksum',
    createRequest(method: string, url: string): HttpRequest {
      const request = inner.createRequest(method, url);
      const send = request.send.bind(request);
      request.send = async (body?: unknown) => {
        const bytes = method === 'PATCH' ? await bytesOf(body) : null;
        if (bytes && bytes.byteLength > 0)
          request.setHeader('Upload-Checksum', `sha256 ${await sha256Base64(bytes)}`);
        return send(body);
      };
      return request;
    },
  };
}

/** The lower-case hex SHA-256 of a whole file, declared as upload metadata and checked by the server. */
export async function sha256Hex(file: Blob): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}
