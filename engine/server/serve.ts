/**
 * @module
 * Serves the node app over HTTP with @hono/node-server. `close()` stops accepting connections,
 * lets running requests finish for a grace period, then cuts what is left and releases the models.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { ModelRegistry } from '../models/registry.js';
import { nodeRuntimeFactory } from '../runtime/node-factory.js';
import { createNodeApp, type NodeAppOptions } from './node-app.js';

/** Options of {@link startNode}: where to listen, the models, and the app's options. */
export type StartNodeOptions = Omit<NodeAppOptions, 'registry'> & {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 8788; 0 picks a free one). */
  port?: number;
  /** Grace period of `close()` for running requests, in ms (default 10000). */
  closeGraceMs?: number;
} & ({ registry: ModelRegistry; modelsDir?: never } | { registry?: never; modelsDir: string });

/** A listening node. */
export interface RunningNode {
  /** `http://host:port`. */
  url: string;
  port: number;
  /** Stops the server gracefully; disposes the registry when startNode created it. */
  close(): Promise<void>;
}

/** Starts the node app on `host:port`; resolves once it listens. */
export async function startNode(options: StartNodeOptions): Promise<RunningNode> {
  const { host = '127.0.0.1', port = 8788, closeGraceMs = 10_000, modelsDir, ...appOptions } = options;
  const owned = options.registry ? undefined : new ModelRegistry(modelsDir!, nodeRuntimeFactory);
  const registry = options.registry ?? owned!;
  const app = createNodeApp({ ...appOptions, registry });
  const { server, info } = await new Promise<{ server: Server; info: AddressInfo }>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port, hostname: host }, (info) =>
      resolve({ server: s, info }),
    ) as Server;
    s.once('error', reject);
  }).catch(async (err: unknown) => {
    await owned?.dispose();
    throw err;
  });
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${info.port}`,
    port: info.port,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), closeGraceMs);
        await closed;
        clearTimeout(timer);
        await owned?.dispose();
      })();
      return closing;
    },
  };
}
