/**
 * @module
 * Level-set refinement: the level-set head's map (tanh(d / tau), positive inside) and the class
 * probability are fused into one score, turned back into a signed distance, evolved by a few
 * curvature-flow steps in the narrow band (the WASM `levelset` kernel), and thresholded at zero.
 */
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import { curvatureFlow } from '../../wasm/src/levelset.js';
import type { Shape3 } from '../../wasm/src/shape.js';

/** Refinement settings. */
export interface RefineOptions {
  /** Curvature-flow steps. */
  iterations: number;
  /** Weight of the level-set head in the fused score (the probability gets 1 - weight). */
  levelsetWeight: number;
  /** The manifest's tanh scale, in voxels. */
  tau: number;
}

/** Default refinement: equal weights, 5 steps. */
export const DEFAULT_REFINE: Omit<RefineOptions, 'tau'> = { iterations: 5, levelsetWeight: 0.5 };

const LIMIT = 1 - 1e-6;

/**
 * Writes the fused signed distance (mm, negative inside, as the curvature-flow kernel wants) of one
 * class into `phi` at `offset`: `s = (1 - w)(2p - 1) + w * ls`, `d = tau * atanh(s)` voxels.
 */
export function fuseLevelset(
  probability: Float32Array,
  levelset: Float32Array,
  phi: Float32Array,
  offset: number,
  options: RefineOptions,
  voxelMm: number,
): void {
  const w = options.levelsetWeight;
  for (let i = 0; i < probability.length; i++) {
    const s = Math.min(LIMIT, Math.max(-LIMIT, (1 - w) * (2 * probability[i] - 1) + w * levelset[i]));
    phi[offset + i] = -options.tau * Math.atanh(s) * voxelMm;
  }
}

/** Evolves `phi` and returns the refined 0/1 mask (`phi < 0`). */
export function refineMask(
  core: KernelCore,
  phi: Float32Array,
  shape: Shape3,
  spacing: [number, number, number],
  iterations: number,
): Uint8Array {
  const evolved = curvatureFlow(core, phi, shape, spacing, { iterations });
  const mask = new Uint8Array(evolved.length);
  for (let i = 0; i < evolved.length; i++) mask[i] = evolved[i] < 0 ? 1 : 0;
  return mask;
}

/** Applies a refined mask of class `label` to a label map: voxels gained become `label`, voxels lost become background. */
export function applyRefined(labels: Uint8Array, mask: Uint8Array, label: number): void {
  for (let i = 0; i < labels.length; i++) {
    if (mask[i]) labels[i] = label;
    else if (labels[i] === label) labels[i] = 0;
  }
}
