/**
 * @module
 * Serves the node app over HTTP with @hono/node-server. `close()` stops accepting connections,
 * lets running requests finish for a grace period, then cuts what is left and stops the run workers.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { createNodeApp, DEFAULT_MAX_RUN_SECONDS, type NodeAppOptions } from './node-app.js';

/** Options of {@link startNode}: where to listen, and the app's options (the models folder among them). */
export type StartNodeOptions = NodeAppOptions & {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 8788; 0 picks a free one). */
  port?: number;
  /** Grace period of `close()` for running requests, in ms (default 10000). */
  closeGraceMs?: number;
};

/** A listening node. */
export interface RunningNode {
  /** `http://host:port`. */
  url: string;
  port: number;
  /** The HTTP server (its timeouts are the node's, see below). */
  server: Server;
  /** Stops the server gracefully, then its run workers. */
  close(): Promise<void>;
}

/** Starts the node app on `host:port`; resolves once it listens. */
export async function startNode(options: StartNodeOptions): Promise<RunningNode> {
  const { host = '127.0.0.1', port = 8788, closeGraceMs = 10_000, ...appOptions } = options;
  const { app, close } = createNodeApp(appOptions);
  const { server, info } = await new Promise<{ server: Server; info: AddressInfo }>((resolve, reject) => {
    // Node's requestTimeout (300 s by default, counted from the request's start) would cut a run
    // that queued for long: its body is read only once it has a slot. The run's deadline and the
    // body pace (node-run.ts) bound a run's body; this still ends any connection a minute later.
    const requestTimeout = ((appOptions.maxRunSeconds ?? DEFAULT_MAX_RUN_SECONDS) + 60) * 1000;
    const s = serve({ fetch: app.fetch, port, hostname: host, serverOptions: { requestTimeout } }, (info) =>
      resolve({ server: s, info }),
    ) as Server;
    s.once('error', reject);
  }).catch(async (err: unknown) => {
    await close();
    throw err;
  });
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${info.port}`,
    port: info.port,
    server,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), closeGraceMs);
        await closed;
        clearTimeout(timer);
        await close();
      })();
      return closing;
    },
  };
}
