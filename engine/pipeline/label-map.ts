/**
 * @module
 * A segmentation's label map as the pipeline produces it: the crop box in model axis order, with
 * everything outside the box background. It is expanded into the image's grid only where it is
 * read, a run of z-planes at a time, so a writer streams the full-size map
 * (docs/nnunet-inference.md, "Memory") and only a caller that asks for the whole array gets one.
 */
import type { BoundingBox } from '../../wasm/src/crop.js';
import { voxelCount, type Shape3 } from '../../wasm/src/shape.js';
import type { PlaneSource } from '../io/index.js';

/** A label map in an image's grid, held as its crop. */
export class LabelMap implements PlaneSource {
  /** For image axis `i`, the step in `crop` of one voxel along it. */
  private readonly steps: [number, number, number];

  constructor(
    /** The image's grid `[nx, ny, nz]`. */
    readonly shape: Shape3,
    /** The box the labels were predicted in; zeros outside. */
    readonly box: BoundingBox,
    /** Labels of the box in model axis order: model axis `a` is image axis `perm[a]`. */
    readonly crop: Uint8Array,
    readonly perm: readonly [number, number, number],
  ) {
    const ext = box.end.map((e, i) => e - box.start[i]);
    const modelShape = perm.map((p) => ext[p]);
    if (crop.length !== ext[0] * ext[1] * ext[2]) {
      throw new RangeError(
        `crop has ${crop.length} labels, the box [${ext}] needs ${ext[0] * ext[1] * ext[2]}`,
      );
    }
    const modelStride = [1, modelShape[0], modelShape[0] * modelShape[1]];
    const steps: [number, number, number] = [0, 0, 0];
    perm.forEach((p, a) => (steps[p] = modelStride[a]));
    this.steps = steps;
  }

  /** Voxels of the full map. */
  get length(): number {
    return voxelCount(this.shape);
  }

  /** The full map's z-planes `[z0, z1)` (x fastest), a fresh array. */
  planes(z0: number, z1: number): Uint8Array {
    const [nx, ny, nz] = this.shape;
    if (!(Number.isInteger(z0) && Number.isInteger(z1) && 0 <= z0 && z0 <= z1 && z1 <= nz)) {
      throw new RangeError(`planes [${z0}, ${z1}) are outside 0..${nz}`);
    }
    const out = new Uint8Array(nx * ny * (z1 - z0));
    const [bx0, by0, bz0] = this.box.start;
    const [bx1, by1, bz1] = this.box.end;
    const [sx, sy, sz] = this.steps;
    const crop = this.crop;
    for (let z = Math.max(z0, bz0); z < Math.min(z1, bz1); z++) {
      for (let y = by0; y < by1; y++) {
        let i = (z - bz0) * sz + (y - by0) * sy;
        let o = ((z - z0) * ny + y) * nx + bx0;
        for (let x = bx0; x < bx1; x++, i += sx) out[o++] = crop[i];
      }
    }
    return out;
  }

  /** The whole map as one array. */
  toArray(): Uint8Array {
    return this.planes(0, this.shape[2]);
  }
}
