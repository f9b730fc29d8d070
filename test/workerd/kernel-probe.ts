// A test-only Worker: runs kernels inside workerd on arrays posted by test/workerd/kernels.test.ts,
// so the scipy goldens are checked against the very module the edge router loads.
import kernelsModule from '../../wasm/build/kernels.wasm';
import { labelComponents } from '../../wasm/src/components.js';
import { distanceTransform, signedDistance } from '../../wasm/src/edt.js';
import { KernelCore } from '../../wasm/src/kernel-core.js';
import { resampleLabels, resampleVolume } from '../../wasm/src/resample.js';
import type { ProbeRequest } from './probe-request.js';

const toBytes = (b64: string) => Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
function toBase64(a: ArrayBufferView): string {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
const f32 = (b: Uint8Array) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
const i32 = (b: Uint8Array) => new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);

let core: Promise<KernelCore> | undefined;

export default {
  async fetch(request: Request): Promise<Response> {
    core ??= KernelCore.create(kernelsModule, { maxMemoryBytes: 64 * 2 ** 20 });
    const k = await core;
    const req = (await request.json()) as ProbeRequest;
    const bytes = toBytes(req.data);
    let out: ArrayBufferView;
    switch (req.kernel) {
      case 'resample':
        out = resampleVolume(k, f32(bytes), req.shape, req.newShape!, req.options!);
        break;
      case 'resample-labels':
        out = resampleLabels(k, i32(bytes), req.shape, req.newShape!, req.options!);
        break;
      case 'edt':
        out = distanceTransform(k, bytes, req.shape, req.spacing!);
        break;
      case 'signed-distance':
        out = signedDistance(k, bytes, req.shape, req.spacing!);
        break;
      case 'components':
        out = labelComponents(k, bytes, req.shape).labels;
        break;
    }
    return Response.json({ data: toBase64(out) });
  },
};
