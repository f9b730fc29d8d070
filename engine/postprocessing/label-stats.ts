/**
 * @module
 * Per-label statistics of a segmentation: voxel count, volume in mL and bounding box.
 */
import { boundingBox } from '../../wasm/src/crop.js';
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import type { Shape3 } from '../../wasm/src/shape.js';

/** Statistics of one label. */
export interface LabelStats {
  label: number;
  name: string;
  voxels: number;
  volume_ml: number;
  /** Half-open voxel box `[start, end)` in image axis order; null when the label is absent. */
  bbox: { start: number[]; end: number[] } | null;
}

/** Stats of every foreground label of `names` (name -> value). */
export function labelStats(
  core: KernelCore,
  labels: Uint8Array,
  shape: Shape3,
  spacing: readonly number[],
  names: Record<string, number | number[]>,
): LabelStats[] {
  const voxelMl = (spacing[0] * spacing[1] * spacing[2]) / 1000;
  const counts = new Float64Array(256);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return Object.entries(names)
    .filter((e): e is [string, number] => typeof e[1] === 'number' && e[1] !== 0)
    .sort((a, b) => a[1] - b[1])
    .map(([name, label]) => {
      const voxels = counts[label];
      const box =
        voxels > 0
          ? boundingBox(
              core,
              labels.map((v) => (v === label ? 1 : 0)),
              shape,
            )
          : null;
      return {
        label,
        name,
        voxels,
        volume_ml: voxels * voxelMl,
        bbox: box && { start: box.start, end: box.end },
      };
    });
}
