/**
 * @module
 * An answer without end, from a buggy node or a proxy, for the tests of readers that must stop at
 * their bound (worker/nodes: a node's refusal, its health answer).
 */
import type { ServerResponse } from 'node:http';

/**
 * Writes 64 KiB pieces to `res` after `head` for as long as the reader takes them, up to 256 MiB;
 * `written()` is how many bytes went out, which says whether the reader stopped at its bound.
 */
export function flood(res: ServerResponse, head: string): { written: () => number } {
  let written = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  res.write(head);
  const pump = (): void => {
    while (!res.destroyed && written < 256 * 2 ** 20) {
      written += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
  return { written: () => written };
}
