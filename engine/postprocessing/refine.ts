/**
 * @module
 * Level-set refinement: the level-set head's map (tanh(d / tau), positive inside) and the class
 * probability are fused into one score, turned back into a signed distance, evolved by a few
 * curvature-flow steps in the narrow band (the WASM `levelset` kernel), and thresholded at zero.
 * The settings belong to the model (manifest `inference.refine`, tuned by bench/refine.ts on its
 * training cases); a model without them gets {@link DEFAULT_REFINE}.
 */
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import { curvatureFlow, curvatureFlowMaxDt } from '../../wasm/src/levelset.js';
import type { Shape3, Spacing3 } from '../../wasm/src/shape.js';
import type { ModelManifest } from '../models/manifest.js';

/** How a model refines: the fusion weight and the curvature flow. */
export interface RefineSettings {
  /** Weight of the level-set head in the fused score (the probability gets 1 - weight), in [0, 1]. */
  levelsetWeight: number;
  /** Curvature-flow steps (0: the fused score is only thresholded). */
  iterations: number;
  /** Narrow-band half width in voxels of the smallest spacing. */
  bandVoxels: number;
  /** Time step as a fraction of the kernel's stability bound, in (0, 1]. */
  dtFraction: number;
}

/**
 * Settings of a model whose manifest has none: equal weights, 5 steps, and the kernel's own band
 * (3 voxels) and time step (half the bound, wasm/src/levelset.ts). Never tuned.
 */
export const DEFAULT_REFINE: RefineSettings = {
  levelsetWeight: 0.5,
  iterations: 5,
  bandVoxels: 3,
  dtFraction: 0.5,
};

/** The model's refinement settings: its manifest's `inference.refine`, the defaults filling what it leaves out. */
export function refineSettings(manifest: ModelManifest): RefineSettings {
  const r = manifest.inference.refine;
  if (!r) return DEFAULT_REFINE;
  return {
    levelsetWeight: r.levelset_weight,
    iterations: r.iterations,
    bandVoxels: r.band_voxels ?? DEFAULT_REFINE.bandVoxels,
    dtFraction: r.dt_fraction ?? DEFAULT_REFINE.dtFraction,
  };
}

/** What refinement reads, in the model's layout (cropped, model axis order). */
export interface RefineInputs {
  shape: Shape3;
  spacing: Spacing3;
  /** `[classes - 1][voxels]` softmax probabilities of the foreground classes. */
  probabilities: Float32Array;
  /** `[classes - 1][voxels]` level-set head maps, tanh(d / tau), positive inside. */
  levelsets: Float32Array;
  /** The manifest's tanh scale, in voxels. */
  tau: number;
}

const LIMIT = 1 - 1e-6;

/**
 * Writes the fused signed distance (mm, negative inside, as the curvature-flow kernel wants) of one
 * class into `phi`: `s = (1 - w)(2p - 1) + w * ls`, `d = tau * atanh(s)` voxels.
 */
export function fuseLevelset(
  probability: Float32Array,
  levelset: Float32Array,
  phi: Float32Array,
  levelsetWeight: number,
  tau: number,
  voxelMm: number,
): void {
  const w = levelsetWeight;
  for (let i = 0; i < probability.length; i++) {
    const s = Math.min(LIMIT, Math.max(-LIMIT, (1 - w) * (2 * probability[i] - 1) + w * levelset[i]));
    phi[i] = -tau * Math.atanh(s) * voxelMm;
  }
}

/** Evolves `phi` with `settings`' flow and returns the refined 0/1 mask (`phi < 0`). */
export function refineMask(
  core: KernelCore,
  phi: Float32Array,
  shape: Shape3,
  spacing: Spacing3,
  settings: RefineSettings,
): Uint8Array {
  const evolved = curvatureFlow(core, phi, shape, spacing, {
    iterations: settings.iterations,
    band: settings.bandVoxels * Math.min(...spacing),
    dt: settings.dtFraction * curvatureFlowMaxDt(shape, spacing),
  });
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

/** Refines every foreground class of the model-layout label map `labels` in place, in label order. */
export function refineLabels(
  core: KernelCore,
  labels: Uint8Array,
  inputs: RefineInputs,
  settings: RefineSettings,
): void {
  const n = labels.length;
  const classes = inputs.probabilities.length / n;
  const voxelMm = Math.min(...inputs.spacing);
  const phi = new Float32Array(n);
  for (let c = 0; c < classes; c++) {
    const part = (a: Float32Array): Float32Array => a.subarray(c * n, (c + 1) * n);
    fuseLevelset(
      part(inputs.probabilities),
      part(inputs.levelsets),
      phi,
      settings.levelsetWeight,
      inputs.tau,
      voxelMm,
    );
    applyRefined(labels, refineMask(core, phi, inputs.shape, inputs.spacing, settings), c + 1);
  }
}
