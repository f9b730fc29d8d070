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
import type { KernelCore, KernelLease } from './kernel-core.js';
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

/**
 * Weighted accumulation of patch logits over a `[C][volume]` buffer, then `acc / weights`.
 *
 * The accumulators and the Gaussian live in a kernel-memory lease for the accumulator's lifetime:
 * each {@link add} copies only the patch's logits in, and {@link finish} copies the result out once.
 * Call {@link finish} or {@link release} (on an error path) so the lease returns to the core.
 */
export class PatchAccumulator {
  private readonly lease: KernelLease;
  private readonly volumeVoxels: number;
  private readonly patchVoxels: number;

  /** An empty accumulator for `channels` planes of `volume` and patches of `patch`. */
  constructor(
    private readonly core: KernelCore,
    private readonly channels: number,
    private readonly volume: Shape3,
    private readonly patch: Shape3,
  ) {
    checkShape(volume, 'volume');
    checkShape(patch, 'patch');
    if (!Number.isInteger(channels) || channels < 1) {
      throw new KernelArgumentError(
        'kernel_argument',
        `channels must be a positive integer, got ${channels}`,
      );
    }
    if (patch.some((p, d) => p > volume[d])) {
      throw new KernelArgumentError(
        'kernel_shape',
        `patch [${patch.join(', ')}] exceeds volume [${volume.join(', ')}]`,
      );
    }
    this.volumeVoxels = voxelCount(volume);
    this.patchVoxels = voxelCount(patch);
    const gaussian = gaussianImportanceMap(core, patch);
    // Layout: acc [C][volume], weights [volume], gaussian [patch]; the lease comes zeroed.
    this.lease = core.lease(4 * ((channels + 1) * this.volumeVoxels + this.patchVoxels));
    this.lease.view(Float32Array, this.gaussianOffset, this.patchVoxels).set(gaussian);
  }

  /** Adds `[C][patch]` logits weighted by the Gaussian at window start `offset` (voxels, inside the volume). */
  add(patchLogits: Float32Array, offset: readonly [number, number, number]): void {
    if (this.lease.isReleased) {
      throw new KernelArgumentError('kernel_state', 'PatchAccumulator.add after finish');
    }
    const { channels, volume, patch, patchVoxels: pn } = this;
    if (!(patchLogits instanceof Float32Array) || patchLogits.length !== channels * pn) {
      throw new KernelArgumentError(
        'kernel_shape',
        `patch logits must be a Float32Array of ${channels} x ${pn} values`,
      );
    }
    if (
      offset.length !== 3 ||
      offset.some((o, d) => !Number.isInteger(o) || o < 0 || o + patch[d] > volume[d])
    ) {
      throw new KernelArgumentError(
        'kernel_shape',
        `offset [${offset.join(', ')}] puts the patch outside the volume`,
      );
    }
    const { ptr } = this.lease;
    this.core.run((heap) => {
      const logits = heap.put(patchLogits);
      this.core.fn<(...args: number[]) => void>('sw_accumulate_window_f32')(
        ptr,
        ptr + this.weightsOffset,
        logits,
        ptr + this.gaussianOffset,
        ...volume,
        ...patch,
        ...offset,
        channels,
      );
    });
  }

  /** `acc / weights` as `[C][volume]`; throws if some voxel was never covered by a patch. */
  finish(): Float32Array {
    if (this.lease.isReleased) {
      throw new KernelArgumentError('kernel_state', 'PatchAccumulator.finish called twice');
    }
    try {
      const uncovered = this.core.fn<(a: number, w: number, n: number, c: number) => number>('sw_divide_f32')(
        this.lease.ptr,
        this.lease.ptr + this.weightsOffset,
        this.volumeVoxels,
        this.channels,
      );
      if (uncovered > 0) {
        throw new KernelArgumentError('kernel_coverage', `${uncovered} voxels were not covered by any patch`);
      }
      return this.lease.view(Float32Array, 0, this.channels * this.volumeVoxels).slice();
    } finally {
      this.lease.release();
    }
  }

  /** Gives the kernel memory back without a result (a failed or cancelled prediction). */
  release(): void {
    this.lease.release();
  }

  private get weightsOffset(): number {
    return 4 * this.channels * this.volumeVoxels;
  }

  private get gaussianOffset(): number {
    return 4 * (this.channels + 1) * this.volumeVoxels;
  }
}
