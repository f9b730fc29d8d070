/**
 * @module
 * nnU-Net's "keep the largest connected component" post-processing, for all foreground jointly
 * and/or per label, as the manifest's `inference.postprocessing` asks:
 * `{ "keep_largest_foreground": true, "keep_largest_labels": [1, 2] }` (either key optional).
 */
import { keepLargestComponent } from '../../wasm/src/components.js';
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import type { Shape3 } from '../../wasm/src/shape.js';
import { InputError } from '../errors.js';

/** The post-processing the manifest selects. */
export interface KeepLargestPlan {
  foreground: boolean;
  labels: number[];
}

/** Reads `inference.postprocessing` (null: nothing). */
export function keepLargestPlan(postprocessing: unknown): KeepLargestPlan {
  if (postprocessing === null || postprocessing === undefined) return { foreground: false, labels: [] };
  const p = postprocessing as { keep_largest_foreground?: unknown; keep_largest_labels?: unknown };
  const labels = p.keep_largest_labels ?? [];
  if (
    typeof p !== 'object' ||
    !(p.keep_largest_foreground === undefined || typeof p.keep_largest_foreground === 'boolean') ||
    !Array.isArray(labels) ||
    !labels.every((l) => Number.isInteger(l) && l > 0)
  ) {
    throw new InputError(
      'bad_manifest',
      `unsupported inference.postprocessing ${JSON.stringify(postprocessing)}`,
    );
  }
  return { foreground: p.keep_largest_foreground === true, labels: labels as number[] };
}

/** Applies `plan` to `labels` in place: foreground first, then each label (nnU-Net's order). */
export function applyKeepLargest(
  core: KernelCore,
  labels: Uint8Array,
  shape: Shape3,
  plan: KeepLargestPlan,
): void {
  if (plan.foreground) {
    const fg = labels.map((v) => (v ? 1 : 0));
    const keep = keepLargestComponent(core, fg, shape);
    for (let i = 0; i < labels.length; i++) if (!keep[i]) labels[i] = 0;
  }
  for (const label of plan.labels) {
    const m = labels.map((v) => (v === label ? 1 : 0));
    const keep = keepLargestComponent(core, m, shape);
    for (let i = 0; i < labels.length; i++) if (m[i] && !keep[i]) labels[i] = 0;
  }
}
