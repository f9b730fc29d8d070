/**
 * @module
 * Which inference node runs a request: every node's `/healthz` is asked at once (a short timeout)
 * and the healthy ones are ordered by load, so retries go to the next-best node. Nodes that did not
 * answer in time come last rather than never: a node busy computing can be slow to answer its health
 * check and still take work, and a dead one fails fast on connect.
 */

/** A node's answer to `GET /healthz`. */
interface NodeHealth {
  status: string;
  running: number;
  queued: number;
  concurrency: number;
  queue: number;
}

/** How long a health check may take before the node counts as down. */
export const HEALTH_TIMEOUT_MS = 1500;

/** Every node: healthy ones least loaded first (ties keep the configured order), then the silent ones. */
export async function rankNodes(nodes: readonly string[], token: string | undefined): Promise<string[]> {
  const checks = await Promise.all(
    nodes.map(async (node, order) => {
      try {
        const res = await fetch(`${node}/healthz`, {
          headers: token ? { Authorization: `Bearer ${token}` } : {},
          signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS),
        });
        if (res.status !== 200) return null;
        const h = (await res.json()) as NodeHealth;
        // Without its counts a node's load is NaN, which no sort order can place: it counts as silent.
        const counts = [h?.running, h?.queued, h?.concurrency, h?.queue];
        if (h?.status !== 'ok' || !counts.every((n) => Number.isFinite(n) && n >= 0)) return null;
        const capacity = Math.max(1, h.concurrency + h.queue);
        return { node, order, load: (h.running + h.queued) / capacity };
      } catch {
        return null;
      }
    }),
  );
  const healthy = checks
    .filter((c): c is NonNullable<typeof c> => c !== null)
    .sort((a, b) => a.load - b.load || a.order - b.order)
    .map((c) => c.node);
  return [...healthy, ...nodes.filter((n) => !healthy.includes(n))];
}
