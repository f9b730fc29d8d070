// A test-only Worker (test/workerd/edge-runtime.test.ts): the Worker's own edge-runtime loader
// (worker/edge/edge-runtime.ts) on brain-wm-2d's current manifest with the edge mark the request
// names, so that both runtimes a manifest can name run through it, not only the one the shipped
// manifests name. Query: `edge=<the manifest's edge object as JSON>&dims=1,1,128,128`; body: the
// float32 input. Answers the first output's float32 data, or 409 with the reason when the loader
// refuses the file (EdgeModelUnavailable: the Worker then sends the run to a node).
import current from '../../models/brain-wm-2d/manifest.json';
import { EdgeModelUnavailable, edgeRuntime, type EdgeManifest } from '../../worker/edge/edge-runtime.js';

export default {
  async fetch(request: Request, env: { MODELS: R2Bucket }): Promise<Response> {
    const params = new URL(request.url).searchParams;
    const manifest = {
      ...current,
      edge: JSON.parse(params.get('edge') ?? 'null'),
    } as unknown as EdgeManifest;
    const dims = (params.get('dims') ?? '').split(',').map(Number);
    const input = new Float32Array(await request.arrayBuffer());
    try {
      const runtime = await edgeRuntime(env.MODELS, manifest);
      const out = await runtime.run(input, dims);
      return new Response(out[runtime.outputNames[0]].data.slice().buffer, {
        headers: { 'x-provider': runtime.info.provider },
      });
    } catch (err) {
      if (err instanceof EdgeModelUnavailable) return new Response(err.message, { status: 409 });
      throw err;
    }
  },
};
