/**
 * @module
 * Level-set mean-curvature flow for post-processing refinement: `phi_t = kappa |grad phi|` with
 * `kappa = div(grad phi / |grad phi|)`, central differences in mm, edge-replicated borders, explicit
 * Euler steps, applied only in the narrow band `|phi| < band`. A `[w, h, 1]` image evolves in 2D
 * (a size-1 axis contributes no derivatives).
 *
 * Default time step: the explicit scheme is stable for `dt * sum_i 2 / s_i^2 < 1` (Osher & Fedkiw,
 * "Level Set Methods", the parabolic CFL condition for the curvature term with coefficient 1, taken
 * over the axes longer than 1). The default is half that bound, `dt = 1 / (4 sum_i 1 / s_i^2)`
 * (1/12 mm^2 time units on a 1 mm 3D grid), leaving room for the mixed-derivative terms; larger
 * user values than the bound itself are refused.
 */
import { KernelArgumentError } from './kernel-errors.js';
import type { KernelCore } from './kernel-core.js';
import { signedDistance } from './edt.js';
import { checkSpacing, checkVolume, type Shape3, type Spacing3 } from './shape.js';

/** Options of {@link curvatureFlow}. */
export interface CurvatureFlowOptions {
  /** Number of Euler steps (0 returns a copy). */
  iterations: number;
  /** Narrow-band half width in mm; default 3 voxels of the smallest spacing. */
  band?: number;
  /** Time step in mm^2; default half the stability bound (see the module notes). */
  dt?: number;
}

/** Sum of 1/s^2 over the axes that have neighbours (size > 1). */
function inverseSquareSum(shape: Shape3, spacing: Spacing3): number {
  return shape.reduce((s, n, d) => (n > 1 ? s + 1 / (spacing[d] * spacing[d]) : s), 0);
}

/** Largest stable time step (the CFL bound) for `shape` and `spacing`; Infinity when no axis is longer than 1. */
export function curvatureFlowMaxDt(shape: Shape3, spacing: Spacing3): number {
  return 1 / (2 * inverseSquareSum(shape, spacing));
}

function checkIterations(iterations: number): void {
  if (!Number.isInteger(iterations) || iterations < 0) {
    throw new KernelArgumentError(
      'kernel_argument',
      `iterations must be a non-negative integer, got ${iterations}`,
    );
  }
}

/** Evolves `phi` (negative inside) by mean-curvature motion in its narrow band; returns the new phi. */
export function curvatureFlow(
  core: KernelCore,
  phi: Float32Array,
  shape: Shape3,
  spacing: Spacing3,
  options: CurvatureFlowOptions,
): Float32Array {
  checkVolume(shape, phi, 'phi');
  checkSpacing(spacing);
  const { iterations } = options;
  checkIterations(iterations);
  const band = options.band ?? 3 * Math.min(...spacing);
  if (!(band > 0))
    throw new KernelArgumentError('kernel_argument', `band must be positive (mm), got ${band}`);
  const maxDt = curvatureFlowMaxDt(shape, spacing);
  const dt = options.dt ?? maxDt / 2;
  if (!(dt > 0) || dt > maxDt) {
    throw new KernelArgumentError(
      'kernel_argument',
      `dt must be in (0, ${maxDt}] for this spacing, got ${dt}`,
    );
  }
  if (iterations === 0 || maxDt === Infinity) return phi.slice();
  const [sx, sy, sz] = spacing;
  const coef = new Float32Array([
    1 / (2 * sx),
    1 / (2 * sy),
    1 / (2 * sz),
    1 / (sx * sx),
    1 / (sy * sy),
    1 / (sz * sz),
    1 / (4 * sx * sy),
    1 / (4 * sx * sz),
    1 / (4 * sy * sz),
    dt,
  ]);
  const step =
    core.fn<(d: number, s: number, nx: number, ny: number, nz: number, c: number, b: number) => void>(
      'levelset_step_f32',
    );
  return core.run((heap) => {
    let src = heap.put(phi);
    let dst = heap.alloc(phi.byteLength);
    const c = heap.put(coef);
    for (let k = 0; k < iterations; k++) {
      step(dst, src, shape[0], shape[1], shape[2], c, Math.fround(band));
      [src, dst] = [dst, src];
    }
    return heap.take(Float32Array, src, phi.length);
  });
}

/** Smooths a binary mask: signed distance (positive outside) -> curvature flow -> `phi < 0`. */
export function smoothMask(
  core: KernelCore,
  mask: Uint8Array,
  shape: Shape3,
  spacing: Spacing3,
  options: { iterations: number },
): Uint8Array {
  checkVolume(shape, mask, 'mask');
  checkSpacing(spacing);
  checkIterations(options.iterations);
  if (options.iterations === 0) return mask.map((v) => (v ? 1 : 0));
  const phi = curvatureFlow(core, signedDistance(core, mask, shape, spacing), shape, spacing, options);
  const out = new Uint8Array(phi.length);
  for (let i = 0; i < phi.length; i++) out[i] = phi[i] < 0 ? 1 : 0;
  return out;
}
