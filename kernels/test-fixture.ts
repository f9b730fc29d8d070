/**
 * @module
 * What the WGSL kernel tests share: a device (or a loud skip locally / a failure in CI when there is
 * none), the WASM twins, and real data: a sagittal slice of the shared brain-wm case fsB through the
 * shipped `brain-wm-2d` model on the CPU provider, every tile under every mirroring combination.
 * Inputs stay small (one 144 x 160 slice, four 128 x 128 tiles): SwiftShader runs compute on the CPU.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readImageFile } from '../engine/cli/files.js';
import { flipPlanes, mirrorCombinations } from '../engine/inference/mirroring.js';
import { ModelRegistry } from '../engine/models/registry.js';
import { planePixels, planeShape, type Plane } from '../engine/preprocessing/axes.js';
import { nodeRuntimeFactory } from '../engine/runtime/node-factory.js';
import type { KernelCore } from '../wasm/src/kernel-core.js';
import { sharedKernels } from '../wasm/src/node-loader.js';
import { zscoreNormalize } from '../wasm/src/normalize.js';
import type { Shape3 } from '../wasm/src/shape.js';
import {
  computeSlidingWindowSteps,
  gaussianImportanceMap,
  PatchAccumulator,
} from '../wasm/src/sliding-window.js';
import { GpuKernels } from './gpu-core.js';
import { MirrorSum } from './mirroring.js';
import { requestNodeGpu } from './node-device.js';
import { GpuPatchAccumulator } from './sliding-window.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The shared brain-wm case the fixture cuts (the shipped model's validation case). */
export const FSB_IMAGE = join(REPO, '../shared/data/brain-wm/imagesTr/fsB_0000.nii.gz');

/** The device for a test file: kernels, or why the tests skip. In CI a missing adapter is an error. */
interface GpuForTests {
  kernels: GpuKernels | null;
  adapter: string;
  /** A skip reason (locally, no adapter), else false. */
  skip: string | false;
}

let gpu: Promise<GpuForTests> | undefined;

/** One device and kernel set per test process. */
function gpuForTests(): Promise<GpuForTests> {
  gpu ??= (async () => {
    const found = await requestNodeGpu();
    if (found.device === null) {
      if (process.env.CI === 'true') {
        // Every test then fails with this reason: CI must never pass without running the kernels.
        return { kernels: null, adapter: 'none', skip: false };
      }
      const skip = `no WebGPU adapter: ${found.reason}`;
      console.warn(`\n*** WGSL kernel tests SKIPPED: ${skip} ***\n`);
      return { kernels: null, adapter: 'none', skip };
    }
    const kernels = await GpuKernels.create(found.device);
    console.log(`WGSL kernel tests on: ${found.adapter}`);
    return { kernels, adapter: found.adapter, skip: false };
  })();
  return gpu;
}

/**
 * A `test` for the kernels: skipped (loudly) without an adapter locally; in CI it fails instead, so
 * CI never passes without running the kernels.
 */
export type KernelTest = (name: string, body: (k: GpuKernels) => unknown) => void;

/** The test registrar of one test file (awaits the device once). */
export async function kernelTests(): Promise<KernelTest> {
  const g = await gpuForTests();
  return (name, body) => {
    test(name, { skip: g.skip }, async () => {
      assert.ok(
        g.kernels,
        'no WebGPU adapter in CI (CI=true): install chromium (SwiftShader) and libvulkan1',
      );
      await body(g.kernels);
    });
  };
}

/** Real network outputs of one slice: every tile under every mirroring combination. */
export interface SliceFixture {
  core: KernelCore;
  /** The normalised slice, row-major. */
  slice: Float32Array;
  plane: Plane;
  patch: Plane;
  /** Window starts `[col, row]` of the tiles, nnU-Net's order (rows outer). */
  tiles: [number, number][];
  /** The tiles of the slice, `[tiles]` planes of the patch. */
  input: Float32Array;
  /** Mirroring combinations (spatial axes: 0 rows, 1 cols), identity first. */
  flips: number[][];
  /** Five raw (integer-valued) sagittal planes around the slice's, `[5]` planes: real channel data with exact ties. */
  planes: Float32Array;
  /** Per combination: the logits `[tiles][2][patch]` and the level set `[tiles][1][patch]` the network gave for the flipped input. */
  outputs: { logits: Float32Array; levelset: Float32Array }[];
}

let fixture: Promise<SliceFixture> | undefined;

/** The slice fixture (computed once per process; about a second on the CPU provider). */
export function sliceFixture(): Promise<SliceFixture> {
  fixture ??= (async () => {
    const core = await sharedKernels();
    const image = await readImageFile(FSB_IMAGE);
    const [nx, ny, nz] = image.shape;
    // A sagittal plane near the middle (x is brain-wm-2d's slicing axis), 144 x 160 around the centre.
    const cols = 160;
    const rows = 144;
    const x = Math.floor(nx / 2) - 20;
    const y0 = Math.floor((ny - cols) / 2);
    const z0 = Math.floor((nz - rows) / 2);
    const planes = new Float32Array(5 * rows * cols);
    for (let p = 0; p < 5; p++)
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++)
          planes[(p * rows + r) * cols + c] = image.data[((z0 + r) * ny + y0 + c) * nx + x - 2 + p];
    const slice = zscoreNormalize(core, planes.slice(2 * rows * cols, 3 * rows * cols));
    const plane: Plane = { rows, cols };
    const patch: Plane = { rows: 128, cols: 128 };
    const steps = computeSlidingWindowSteps(planeShape(plane), planeShape(patch), 0.5);
    const tiles: [number, number][] = [];
    for (const r of steps[1]) for (const c of steps[0]) tiles.push([c, r]);
    const tileSize = planePixels(patch);
    const input = new Float32Array(tiles.length * tileSize);
    tiles.forEach(([c, r], t) => {
      for (let i = 0; i < patch.rows; i++)
        input.set(
          slice.subarray((r + i) * cols + c, (r + i) * cols + c + patch.cols),
          t * tileSize + i * patch.cols,
        );
    });
    const registry = new ModelRegistry(join(REPO, 'models'), nodeRuntimeFactory);
    const [runtime] = await registry.runtimes('brain-wm-2d', 'cpu');
    const flips = mirrorCombinations([0, 1]);
    const outputs = [];
    for (const flip of flips) {
      const x = flip.length ? flipPlanes(input, tiles.length, patch, flip) : input;
      const out = await runtime.run(x, [tiles.length, 1, patch.rows, patch.cols]);
      outputs.push({ logits: out.logits.data, levelset: out.levelset.data });
    }
    await registry.dispose();
    return { core, slice, plane, patch, tiles, input, flips, outputs, planes };
  })();
  return fixture;
}

/** Channels of the stack: two logits, then the level set (as SlicePredictor stacks the outputs). */
export const STACK = 3;

/**
 * The CPU path's mean over the mirroring combinations (SlicePredictor.predictBatch with one fold):
 * every output flipped back with flipPlanes, added into the `[tiles][STACK][patch]` stack in f32,
 * then scaled.
 */
export function ttaMean(fx: SliceFixture): Float32Array {
  const tileSize = planePixels(fx.patch);
  const n = fx.tiles.length;
  const sum = new Float32Array(n * STACK * tileSize);
  fx.flips.forEach((flip, f) => {
    [fx.outputs[f].logits, fx.outputs[f].levelset].forEach((out, o) => {
      const ch = o === 0 ? 2 : 1;
      const offset = o === 0 ? 0 : 2;
      const y = flip.length ? flipPlanes(out, n * ch, fx.patch, flip) : out;
      for (let b = 0; b < n; b++)
        for (let j = 0; j < ch * tileSize; j++)
          sum[(b * STACK + offset) * tileSize + j] += y[b * ch * tileSize + j];
    });
  });
  const scale = 1 / fx.flips.length;
  for (let j = 0; j < sum.length; j++) sum[j] *= scale;
  return sum;
}

/** The WASM sliding-window result of the slice: `[STACK]` planes (PatchAccumulator, tile by tile). */
export function wasmSliceLogits(fx: SliceFixture): Float32Array {
  const per = STACK * planePixels(fx.patch);
  const mean = ttaMean(fx);
  const acc = new PatchAccumulator(fx.core, STACK, planeShape(fx.plane), planeShape(fx.patch));
  fx.tiles.forEach(([c, r], t) => acc.add(mean.subarray(t * per, (t + 1) * per), [c, r, 0]));
  return acc.finish();
}

/** The GPU path's TTA mean of the fixture's outputs, `[tiles][STACK][patch]` (MirrorSum). */
export function gpuTtaMean(k: GpuKernels, fx: SliceFixture): GPUBuffer {
  const mirror = new MirrorSum(k, fx.tiles.length, STACK, fx.patch);
  fx.flips.forEach((flip, f) => {
    mirror.add(k.temp(fx.outputs[f].logits), 2, 0, flip);
    mirror.add(k.temp(fx.outputs[f].levelset), 1, 2, flip);
  });
  return mirror.mean();
}

/** An empty GPU accumulator for the fixture's slice, with the WASM kernel's importance map. */
export function gpuSliceAccumulator(k: GpuKernels, fx: SliceFixture): GpuPatchAccumulator {
  const gaussian = gaussianImportanceMap(fx.core, planeShape(fx.patch));
  return new GpuPatchAccumulator(k, STACK, planeShape(fx.plane), planeShape(fx.patch), gaussian);
}

/** The fixture's tile offsets as `[col, row, 0]` window starts. */
export function tileOffsets(fx: SliceFixture): Shape3[] {
  return fx.tiles.map(([c, r]) => [c, r, 0] as const);
}

/** Largest |a - b| and largest |b| over two arrays of equal length. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  assert.equal(a.length, b.length, 'lengths differ');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    // NaN anywhere (a broken kernel) must fail, not hide in a comparison.
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale };
}

/** Asserts max |gpu - wasm| <= tol x max(1, max |wasm|) and logs the measured error. */
export function assertClose(
  what: string,
  gpuValues: Float32Array,
  wasmValues: Float32Array,
  tol: number,
): void {
  const { diff, scale } = maxAbsDiff(gpuValues, wasmValues);
  const rel = diff / Math.max(1, scale);
  console.log(
    `${what}: max |gpu - wasm| = ${diff.toExponential(3)} (max |wasm| ${scale.toFixed(3)}; ${rel.toExponential(3)} of it, tolerance ${tol})`,
  );
  assert.ok(rel <= tol, `${what}: max abs difference ${diff} exceeds ${tol} x max(1, ${scale})`);
}
