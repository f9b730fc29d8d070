/**
 * @module
 * In-plane linear resampling of channel planes on the GPU (the order-1 path of
 * `wasm/src/resample.ts`, as `engine/postprocessing/slice-output.ts` applies it to logits plane by
 * plane): skimage resize with mode 'edge' and anti_aliasing off, each plane clipped to its input range.
 */
import { KernelArgumentError } from '../wasm/src/kernel-errors.js';
import { coord } from '../wasm/src/resample-passes.js';
import type { Plane } from '../engine/preprocessing/axes.js';
import type { GpuKernels } from './gpu-core.js';

/** scipy's order-1 taps for `nOut` samples of a line of `nIn` (f64, as the WASM tap table): lo, hi, w0, w1 per sample. */
function linearTaps(nIn: number, nOut: number): ArrayBuffer {
  const buf = new ArrayBuffer(nOut * 16);
  const idx = new Uint32Array(buf);
  const w = new Float32Array(buf);
  const clamp = (i: number): number => Math.min(Math.max(i, 0), nIn - 1);
  for (let k = 0; k < nOut; k++) {
    const cc = coord(k, nIn, nOut);
    const f = Math.floor(cc);
    const x = cc - f;
    idx[4 * k] = clamp(f);
    idx[4 * k + 1] = clamp(f + 1);
    w[4 * k + 2] = 1 - x;
    w[4 * k + 3] = 1 - (1 - x);
  }
  return buf;
}

function checkPlane(plane: Plane, what: string): void {
  if (![plane.rows, plane.cols].every((n) => Number.isInteger(n) && n >= 1)) {
    throw new KernelArgumentError(
      'kernel_shape',
      `${what} must be two positive integers, got ${plane.rows} x ${plane.cols}`,
    );
  }
}

/**
 * Resamples `planes` row-major planes of size `from` in `src` to `to`, linearly, into a new
 * buffer; a copy when the shapes are equal.
 */
export function resamplePlanesLinearGpu(
  k: GpuKernels,
  src: GPUBuffer,
  planes: number,
  from: Plane,
  to: Plane,
): GPUBuffer {
  checkPlane(from, 'input plane');
  checkPlane(to, 'output plane');
  if (!Number.isInteger(planes) || planes < 1 || planes > k.device.limits.maxComputeWorkgroupsPerDimension) {
    throw new KernelArgumentError(
      'kernel_argument',
      `planes must be an integer from 1 to the device's workgroup limit, got ${planes}`,
    );
  }
  // The shader's axes are fastest-first: i along columns, j along rows.
  const [ni, nj, oi, oj] = [from.cols, from.rows, to.cols, to.rows];
  if (src.size < planes * ni * nj * 4) {
    throw new KernelArgumentError('kernel_shape', `input must hold ${planes} x ${nj} x ${ni} values`);
  }
  const out = k.buffer(planes * oi * oj * 4, 'resampled');
  if (ni === oi && nj === oj) {
    k.copy(src, out, planes * ni * nj * 4);
    return out;
  }
  const params = { u32: [planes, ni, nj, oi, oj] };
  const range = k.temp(planes * 2 * 4);
  k.dispatch('resample', 'plane_range', params, { 1: src, 4: range }, { workgroups: planes });
  const tapsI = k.temp(new Uint8Array(linearTaps(ni, oi)));
  const tapsJ = k.temp(new Uint8Array(linearTaps(nj, oj)));
  k.dispatch(
    'resample',
    'resample_linear',
    params,
    { 1: src, 2: tapsI, 3: tapsJ, 4: range, 5: out },
    planes * oi * oj,
  );
  return out;
}
