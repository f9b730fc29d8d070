/**
 * @module
 * Which inference node runs a request: every node's `/healthz` is asked at once (a short timeout)
 * and the healthy ones are ordered by engine/protocol/node-health.ts's `orderNodes`: GPU nodes first
 * for a model whose manifest prefers them (`prefers_gpu`, the nnSAM family), then by load, so retries
 * go to the next-best node. Nodes that did not answer in time come last rather than never: a node busy
 * computing can be slow to answer its health check and still take work, and a dead one fails fast on
 * connect.
 */
import {
  checkOf,
  formatModelReference,
  orderNodes,
  type NodeCheck,
  type NodeHealth,
} from '../../engine/edge.js';
import { readCapped } from './remote-run.js';

/** How long a health check may take before the node counts as down. */
export const HEALTH_TIMEOUT_MS = 1500;

/** Most bytes of a health answer read; a real one, its releases listed, is a few KB. */
export const MAX_HEALTH_BYTES = 256 * 1024;

/** What placement needs to know of the request. */
export interface PlacementNeeds {
  /** The model's manifest prefers GPU nodes. */
  preferGpu?: boolean;
  /** The release to run; a node whose `/healthz` lists its releases without it is left out. */
  release?: { id: string; version: string };
}

/**
 * Every node that may run the request: healthy ones in `orderNodes` order, then the silent ones. A
 * node that says it lacks the release (one behind a deploy) is not asked: it would answer 404.
 */
export async function rankNodes(
  nodes: readonly string[],
  token: string | undefined,
  needs: PlacementNeeds = {},
): Promise<string[]> {
  const checks = await Promise.all(
    nodes.map(async (node, order): Promise<NodeCheck | null> => {
      try {
        const res = await fetch(`${node}/healthz`, {
          headers: token ? { Authorization: `Bearer ${token}` } : {},
          signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS),
        });
        if (res.status !== 200) {
          res.body?.cancel().catch(() => {});
          return null;
        }
        // Read to a bound: the health of every node is read on every placement, in one isolate.
        const h = JSON.parse(await readCapped(res, MAX_HEALTH_BYTES)) as NodeHealth;
        return h?.status === 'ok' ? checkOf(node, order, h) : null;
      } catch {
        return null;
      }
    }),
  );
  const wanted = needs.release && formatModelReference(needs.release.id, needs.release.version);
  const answered = checks.filter((c): c is NodeCheck => c !== null);
  const lacking = answered.filter((c) => wanted && c.releases !== null && !c.releases.includes(wanted));
  const healthy = orderNodes(
    answered.filter((c) => !lacking.includes(c)),
    needs.preferGpu === true,
  );
  const silent = nodes.filter((n) => !answered.some((c) => c.node === n));
  return [...healthy, ...silent];
}
