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

/**
 * Where a label map that is a crop lies in its image: axis `a` of the crop is image axis `perm[a]`,
 * and the crop starts at voxel `start` (image axes). Labels outside the crop are background.
 */
export interface CropPlacement {
  perm: readonly number[];
  start: readonly number[];
}

/**
 * Stats of every foreground label of `names` (name -> value); `spacing` is the image's. With
 * `placement`, `labels` (of `shape`) is a crop of the image and the boxes are given in the image.
 */
export function labelStats(
  core: KernelCore,
  labels: Uint8Array,
  shape: Shape3,
  spacing: readonly number[],
  names: Record<string, number | number[]>,
  placement: CropPlacement = { perm: [0, 1, 2], start: [0, 0, 0] },
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
        bbox: box && inImage(box.start, box.end, placement),
      };
    });
}

/** A crop-axes box as image-axes voxel indices. */
function inImage(
  start: readonly number[],
  end: readonly number[],
  { perm, start: origin }: CropPlacement,
): { start: number[]; end: number[] } {
  const out = { start: [0, 0, 0], end: [0, 0, 0] };
  perm.forEach((p, a) => {
    out.start[p] = origin[p] + start[a];
    out.end[p] = origin[p] + end[a];
  });
  return out;
}
