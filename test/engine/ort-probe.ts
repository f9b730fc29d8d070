// A test-only Worker (test/engine/ort-workerd.test.ts, bench/engine.ts): an edge runtime loaded inside
// workerd from its pre-compiled module, as docs/platform.md prescribes: onnxruntime-web, or with
// `&runtime=unet-wasm` the own U-Net runtime (docs/unet-wasm.md; `&winograd=0` without its Winograd
// convolutions, bench/edge-oneshot.ts's baseline). POST body: u32 model length, the
// model, then the float32 input; `?dims=1,1,128,128[&runs=N]`. Answers the first output's float32
// data after N runs (default 1): timers do not advance inside workerd, so callers time runs=N+1
// against runs=1.
import ortWasm from '../../node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm';
import unetWasm from '../../wasm/build/unet.wasm';
import { createOrtWeb } from '../../engine/runtime/ort-web.js';
import { createUnetWasm } from '../../engine/runtime/unet-wasm.js';
import { KernelCore } from '../../wasm/src/kernel-core.js';

export default {
  async fetch(request: Request): Promise<Response> {
    const params = new URL(request.url).searchParams;
    const dims = (params.get('dims') ?? '').split(',').map(Number);
    const runs = Number(params.get('runs') ?? '1');
    const body = new Uint8Array(await request.arrayBuffer());
    const n = new DataView(body.buffer).getUint32(0, true);
    const model = body.slice(4, 4 + n);
    const input = new Float32Array(body.slice(4 + n).buffer);
    const rt =
      params.get('runtime') === 'unet-wasm'
        ? createUnetWasm(await KernelCore.create(unetWasm), model, {
            winograd: params.get('winograd') !== '0',
          })
        : await createOrtWeb(model, ortWasm);
    try {
      let out = await rt.run(input, dims);
      for (let i = 1; i < runs; i++) out = await rt.run(input, dims);
      const first = out[rt.outputNames[0]].data;
      return new Response(first.slice().buffer, { headers: { 'x-provider': rt.info.provider } });
    } finally {
      await rt.dispose();
    }
  },
};
