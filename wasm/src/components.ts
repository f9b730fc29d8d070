/**
 * @module
 * Connected components with full connectivity (26 in 3D, 8 for a `[w, h, 1]` image), numbered as
 * `scipy.ndimage.label(mask, structure=np.ones((3, 3, 3)))` numbers them, and nnU-Net's
 * keep-the-largest-component post-processing.
 */
import type { KernelCore, KernelHeap } from './kernel-core.js';
import { checkVolume, voxelCount, type Shape3 } from './shape.js';

/** Labelled components: `labels` 0 = background, 1..count in raster order of first voxel. */
export interface Components {
  labels: Int32Array;
  count: number;
  /** sizes[k] = voxels of label k+1 */
  sizes: number[];
}

/** Run table of a labelled mask, in kernel memory. */
interface RunTable {
  runs: number;
  count: number;
  x0s: number;
  x1s: number;
  rowStart: number;
  label: number;
  sizes: number;
}

type LabelRuns = (
  m: number,
  nx: number,
  ny: number,
  nz: number,
  x0s: number,
  x1s: number,
  rowStart: number,
  label: number,
  sizes: number,
) => number;

function labelRuns(core: KernelCore, heap: KernelHeap, mask: Uint8Array, shape: Shape3): RunTable {
  const [nx, ny, nz] = shape;
  const rows = ny * nz;
  const m = heap.put(mask);
  const runs = core.fn<(m: number, nx: number, rows: number) => number>('cc_count_runs_u8')(m, nx, rows);
  const x0s = heap.alloc(runs * 4);
  const x1s = heap.alloc(runs * 4);
  const label = heap.alloc(runs * 4);
  const rowStart = heap.alloc((rows + 1) * 4);
  const sizes = heap.zeros(Int32Array, runs + 1);
  const count = core.fn<LabelRuns>('cc_label_runs_u8')(m, nx, ny, nz, x0s, x1s, rowStart, label, sizes);
  return { runs, count, x0s, x1s, rowStart, label, sizes };
}

/** Labels the full-connectivity components of a 0/1 mask (any non-zero is foreground). */
export function labelComponents(core: KernelCore, mask: Uint8Array, shape: Shape3): Components {
  checkVolume(shape, mask, 'mask');
  const [nx, ny, nz] = shape;
  return core.run((heap) => {
    const t = labelRuns(core, heap, mask, shape);
    const out = heap.zeros(Int32Array, voxelCount(shape));
    core.fn<(o: number, nx: number, rows: number, rs: number, a: number, b: number, l: number) => void>(
      'cc_paint_i32',
    )(out, nx, ny * nz, t.rowStart, t.x0s, t.x1s, t.label);
    const sizes = Array.from(heap.view(Int32Array, t.sizes + 4, t.count));
    return { labels: heap.take(Int32Array, out, voxelCount(shape)), count: t.count, sizes };
  });
}

/**
 * nnU-Net's `remove_all_but_largest_component` (acvl_utils): keeps the component(s) with the most
 * voxels. Like nnU-Net, every component tied for the largest size is kept. An empty mask stays empty.
 */
export function keepLargestComponent(core: KernelCore, mask: Uint8Array, shape: Shape3): Uint8Array {
  checkVolume(shape, mask, 'mask');
  const [nx, ny, nz] = shape;
  return core.run((heap) => {
    const t = labelRuns(core, heap, mask, shape);
    const out = heap.zeros(Uint8Array, voxelCount(shape));
    let largest = 0;
    const sizes = heap.view(Int32Array, t.sizes, t.count + 1);
    for (let k = 1; k <= t.count; k++) largest = Math.max(largest, sizes[k]);
    if (t.count > 0) {
      core.fn<
        (
          o: number,
          nx: number,
          rows: number,
          rs: number,
          a: number,
          b: number,
          l: number,
          s: number,
          k: number,
        ) => void
      >('cc_paint_keep_u8')(out, nx, ny * nz, t.rowStart, t.x0s, t.x1s, t.label, t.sizes, largest);
    }
    return heap.take(Uint8Array, out, voxelCount(shape));
  });
}
