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

/**
 * Writes `value(label of the run)` over each run's voxels of `out`, which comes zero-filled: the run table is all the
 * labelling produced, so the volume is expanded straight into the caller's fresh array instead of being
 * zeroed, painted and copied out of kernel memory (three passes over the whole volume).
 */
function paintRuns<T extends Int32Array | Uint8Array>(
  heap: KernelHeap,
  t: RunTable,
  nx: number,
  rows: number,
  out: T,
  value: (label: number) => number,
): T {
  const x0s = heap.view(Int32Array, t.x0s, t.runs);
  const x1s = heap.view(Int32Array, t.x1s, t.runs);
  const label = heap.view(Int32Array, t.label, t.runs);
  const rowStart = heap.view(Int32Array, t.rowStart, rows + 1);
  for (let r = 0; r < rows; r++) {
    const row = r * nx;
    for (let i = rowStart[r]; i < rowStart[r + 1]; i++) {
      const v = value(label[i]);
      if (v !== 0) out.fill(v, row + x0s[i], row + x1s[i]);
    }
  }
  return out;
}

/** Labels the full-connectivity components of a 0/1 mask (any non-zero is foreground). */
export function labelComponents(core: KernelCore, mask: Uint8Array, shape: Shape3): Components {
  checkVolume(shape, mask, 'mask');
  const [nx, ny, nz] = shape;
  return core.run((heap) => {
    const t = labelRuns(core, heap, mask, shape);
    const labels = paintRuns(heap, t, nx, ny * nz, new Int32Array(voxelCount(shape)), (l) => l);
    const sizes = Array.from(heap.view(Int32Array, t.sizes + 4, t.count));
    return { labels, count: t.count, sizes };
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
    const sizes = heap.view(Int32Array, t.sizes, t.count + 1);
    let largest = 0;
    for (let k = 1; k <= t.count; k++) largest = Math.max(largest, sizes[k]);
    const keep = (l: number) => (sizes[l] === largest ? 1 : 0);
    return paintRuns(heap, t, nx, ny * nz, new Uint8Array(voxelCount(shape)), keep);
  });
}
