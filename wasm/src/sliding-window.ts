/**
 * @module
 * nnU-Net v2 sliding-window aggregation (`sliding_window_prediction.py`, `predict_from_raw_data.py`):
 * window offsets, the Gaussian importance map and the weighted accumulation of patch logits.
 *
 * Precision: nnU-Net keeps the map and the accumulators in float16 on the GPU by default; here both
 * are f32 (the map is computed in f64 and rounded once), so results agree with an f64 reference to
 * f32 rounding.
 */
import { KernelArgumentError } from './kernel-errors.js';
import type { KernelCore } from './kernel-core.js';
import { checkVolume, voxelCount, type Shape3 } from './shape.js';

/** scipy's gaussian_filter truncation (kernel radius = int(4 sigma + 0.5)). */
const TRUNCATE = 4;

function checkShape(shape: Shape3, what: string): void {
  checkVolume(shape, { length: voxelCount(shape) }, what);
}

/** A centred 1D Gaussian kernel sampled at 0..n-1, as scipy's gaussian_filter1d leaves a delta at n//2; f64. */
function axisWeights(n: number, sigma: number): Float64Array {
  const c = Math.floor(n / 2);
  const w = new Float64Array(n);
  if (sigma <= 1e-15) {
    // scipy skips axes with sigma ~ 0: the delta stays a delta.
    w[c] = 1;
    return w;
  }
  const radius = Math.trunc(TRUNCATE * sigma + 0.5);
  for (let i = 0; i < n; i++) {
    const d = i - c;
    // Normalised to the centre: the map's maximum (the product of the centres) becomes 1, as nnU-Net's division by max does.
    w[i] = Math.abs(d) <= radius ? Math.exp((-0.5 * d * d) / (sigma * sigma)) : 0;
  }
  return w;
}

/** nnU-Net's `compute_gaussian`: Gaussian importance map of a patch, max 1, zeros lifted to the smallest non-zero value. */
export function gaussianImportanceMap(core: KernelCore, patch: Shape3, sigmaScale = 1 / 8): Float32Array {
  checkShape(patch, 'patch');
  if (!(Number.isFinite(sigmaScale) && sigmaScale > 0)) {
    throw new KernelArgumentError('kernel_argument', `sigmaScale must be positive, got ${sigmaScale}`);
  }
  const n = voxelCount(patch);
  const map = core.run((heap) => {
    const axes = patch.map((p) => heap.put(axisWeights(p, p * sigmaScale)));
    const out = heap.alloc(n * 4);
    core.fn<(o: number, gx: number, gy: number, gz: number, nx: number, ny: number, nz: number) => void>(
      'sw_gaussian_outer_f32',
    )(out, axes[0], axes[1], axes[2], patch[0], patch[1], patch[2]);
    return heap.take(Float32Array, out, n);
  });
  let smallest = Infinity;
  for (let i = 0; i < n; i++) if (map[i] > 0 && map[i] < smallest) smallest = map[i];
  for (let i = 0; i < n; i++) if (map[i] === 0) map[i] = smallest;
  return map;
}

/** Round half to even, as numpy's np.round. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** nnU-Net's `compute_steps_for_sliding_window`: window start offsets per axis; the image must be at least the patch. */
export function computeSlidingWindowSteps(imageShape: Shape3, patch: Shape3, stepSize = 0.5): number[][] {
  checkShape(imageShape, 'image');
  checkShape(patch, 'patch');
  if (!(stepSize > 0 && stepSize <= 1)) {
    throw new KernelArgumentError('kernel_argument', `stepSize must be in (0, 1], got ${stepSize}`);
  }
  return imageShape.map((size, d) => {
    const tile = patch[d];
    if (size < tile) {
      throw new KernelArgumentError(
        'kernel_shape',
        `image axis ${d} (${size}) is smaller than the patch (${tile}); pad first`,
      );
    }
    const count = Math.ceil((size - tile) / (tile * stepSize)) + 1;
    const step = count > 1 ? (size - tile) / (count - 1) : 0;
    return Array.from({ length: count }, (_, i) => roundHalfEven(step * i));
  });
}

/** Throws unless `channels` planes of `volume` can take patches of `patch` (shared with the WGSL twin). */
export function checkAccumulator(channels: number, volume: Shape3, patch: Shape3): void {
  checkShape(volume, 'volume');
  checkShape(patch, 'patch');
  if (!Number.isInteger(channels) || channels < 1) {
    throw new KernelArgumentError('kernel_argument', `channels must be a positive integer, got ${channels}`);
  }
  if (patch.some((p, d) => p > volume[d])) {
    throw new KernelArgumentError(
      'kernel_shape',
      `patch [${patch.join(', ')}] exceeds volume [${volume.join(', ')}]`,
    );
  }
}

/** Throws unless a patch at window start `offset` lies inside `volume`. */
export function checkWindow(offset: readonly number[], patch: Shape3, volume: Shape3): void {
  if (
    offset.length !== 3 ||
    offset.some((o, d) => !Number.isInteger(o) || o < 0 || o + patch[d] > volume[d])
  ) {
    throw new KernelArgumentError(
      'kernel_shape',
      `offset [${offset.join(', ')}] puts the patch outside the volume`,
    );
  }
}

/**
 * Weighted accumulation of patch logits over a `[C][volume]` buffer, then `acc / weights`.
 *
 * The accumulators live in JS memory; each {@link add} copies only the patch's window of them into
 * WASM memory and back (row copies, O(C x patch)), so nothing volume-sized crosses per call and a
 * whole-slab patch (e.g. 3 x 512 x 512 x 1) costs one window round trip. The Gaussian is computed
 * once per accumulator.
 */
export class PatchAccumulator {
  private readonly acc: Float32Array;
  private readonly weights: Float32Array;
  private readonly gaussian: Float32Array;
  private readonly patchVoxels: number;
  private finished = false;

  /** An empty accumulator for `channels` planes of `volume` and patches of `patch`. */
  constructor(
    private readonly core: KernelCore,
    private readonly channels: number,
    private readonly volume: Shape3,
    private readonly patch: Shape3,
  ) {
    checkAccumulator(channels, volume, patch);
    this.acc = new Float32Array(channels * voxelCount(volume));
    this.weights = new Float32Array(voxelCount(volume));
    this.gaussian = gaussianImportanceMap(core, patch);
    this.patchVoxels = voxelCount(patch);
  }

  /** Adds `[C][patch]` logits weighted by the Gaussian at window start `offset` (voxels, inside the volume). */
  add(patchLogits: Float32Array, offset: readonly [number, number, number]): void {
    if (this.finished) throw new KernelArgumentError('kernel_state', 'PatchAccumulator.add after finish');
    const { channels, volume, patch, patchVoxels: pn } = this;
    if (!(patchLogits instanceof Float32Array) || patchLogits.length !== channels * pn) {
      throw new KernelArgumentError(
        'kernel_shape',
        `patch logits must be a Float32Array of ${channels} x ${pn} values`,
      );
    }
    checkWindow(offset, patch, volume);
    const vn = voxelCount(volume);
    this.core.run((heap) => {
      const logits = heap.put(patchLogits);
      const g = heap.put(this.gaussian);
      const win = heap.alloc(channels * pn * 4);
      const w = heap.alloc(pn * 4);
      const winView = heap.view(Float32Array, win, channels * pn);
      const wView = heap.view(Float32Array, w, pn);
      this.forEachRow(offset, (src, dst, len) => {
        wView.set(this.weights.subarray(src, src + len), dst);
        for (let c = 0; c < channels; c++)
          winView.set(this.acc.subarray(c * vn + src, c * vn + src + len), c * pn + dst);
      });
      this.core.fn<(a: number, w: number, l: number, g: number, n: number, c: number) => void>(
        'sw_accumulate_f32',
      )(win, w, logits, g, pn, channels);
      this.forEachRow(offset, (src, dst, len) => {
        this.weights.set(wView.subarray(dst, dst + len), src);
        for (let c = 0; c < channels; c++)
          this.acc.set(winView.subarray(c * pn + dst, c * pn + dst + len), c * vn + src);
      });
    });
  }

  /** `acc / weights` as `[C][volume]`; throws if some voxel was never covered by a patch. */
  finish(): Float32Array {
    if (this.finished) throw new KernelArgumentError('kernel_state', 'PatchAccumulator.finish called twice');
    this.finished = true;
    const n = this.weights.length;
    return this.core.run((heap) => {
      const a = heap.put(this.acc);
      const w = heap.put(this.weights);
      const uncovered = this.core.fn<(a: number, w: number, n: number, c: number) => number>('sw_divide_f32')(
        a,
        w,
        n,
        this.channels,
      );
      if (uncovered > 0) {
        throw new KernelArgumentError('kernel_coverage', `${uncovered} voxels were not covered by any patch`);
      }
      return heap.take(Float32Array, a, this.acc.length);
    });
  }

  /** Calls `fn(volumeIndex, patchIndex, length)` for every x row of the window at `offset`. */
  private forEachRow(
    offset: readonly [number, number, number],
    fn: (src: number, dst: number, len: number) => void,
  ): void {
    const [nx, ny] = this.volume;
    const [px, py, pz] = this.patch;
    for (let z = 0; z < pz; z++) {
      for (let y = 0; y < py; y++) {
        fn(((offset[2] + z) * ny + offset[1] + y) * nx + offset[0], (z * py + y) * px, px);
      }
    }
  }
}
