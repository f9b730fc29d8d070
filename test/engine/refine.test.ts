/**
 * Refinement (segment()'s `refine`, measured by bench/refine.ts; no flag offers it) takes its settings from the model's manifest (`inference.refine`), falling back to the
 * engine's defaults, and re-running refinement offline from `refineInputs` (bench/refine.ts) gives
 * exactly what segment() gives: on a slab of fsB with the shipped brain-wm-2d.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ImageVolume } from '../../engine/io/index.js';
import type { ManifestRefine, ModelManifest } from '../../engine/models/manifest.js';
import { labelsToImage } from '../../engine/pipeline/model-layout.js';
import { segment, type RefineStart } from '../../engine/pipeline/segment.js';
import {
  DEFAULT_REFINE,
  refineLabels,
  refineSettings,
  type RefineSettings,
} from '../../engine/postprocessing/refine.js';
import type { InferenceRuntime } from '../../engine/runtime/runtime.js';
import type { KernelCore } from '../../wasm/src/kernel-core.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { fsbSlab, MODEL_ID, tempDir, testRegistry } from './engine-helpers.js';

const registry = testRegistry();
let core: KernelCore;
let image: ImageVolume;
let manifest: ModelManifest;
let folds: InferenceRuntime[];
let plain: Uint8Array;
let start: RefineStart;

before(async () => {
  core = await sharedKernels();
  image = (await fsbSlab(tempDir(), 6)).image;
  manifest = (await registry.load(MODEL_ID)).manifest;
  folds = await registry.runtimes(MODEL_ID, 'cpu', { threads: 1 });
  const out = await segment(core, image, manifest, folds, { tta: false, refineInputs: true });
  plain = out.labels;
  start = out.refineInputs!;
});
after(() => registry.dispose());

function withRefine(refine: ManifestRefine | undefined): ModelManifest {
  return { ...manifest, inference: { ...manifest.inference, refine } };
}

/** The offline path: refineLabels on the kept inputs, then back to the image as segment() ends. */
function offline(settings: RefineSettings): Uint8Array {
  const labels = start.labels.slice();
  refineLabels(core, labels, start.inputs, settings);
  return labelsToImage(core, labels, start.layout, manifest);
}

function differing(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

test('refineInputs hold the model-layout state: without refinement it gives back segment() labels', () => {
  assert.equal(start.inputs.probabilities.length, start.labels.length);
  assert.equal(start.inputs.levelsets.length, start.labels.length);
  assert.equal(start.inputs.tau, manifest.onnx.outputs.find((o) => o.kind === 'levelset')!.tau);
  assert.equal(differing(labelsToImage(core, start.labels, start.layout, manifest), plain), 0);
  // Weight 0 and no steps is the probability thresholded at 0.5: argmax of two classes.
  const none = { ...DEFAULT_REFINE, levelsetWeight: 0, iterations: 0 };
  assert.equal(differing(offline(none), plain), 0);
});

test('segment() refines with the manifest settings, and with the defaults where the manifest has none', async () => {
  const tuned: ManifestRefine = { levelset_weight: 1, iterations: 2, band_voxels: 2 };
  assert.deepEqual(refineSettings(withRefine(tuned)), {
    levelsetWeight: 1,
    iterations: 2,
    bandVoxels: 2,
    dtFraction: DEFAULT_REFINE.dtFraction,
  });
  assert.equal(refineSettings(withRefine(undefined)), DEFAULT_REFINE);
  const byManifest = await segment(core, image, withRefine(tuned), folds, { tta: false, refine: true });
  const byDefault = await segment(core, image, withRefine(undefined), folds, { tta: false, refine: true });
  const expectTuned = offline(refineSettings(withRefine(tuned)));
  const expectDefault = offline(DEFAULT_REFINE);
  assert.equal(differing(byManifest.labels, expectTuned), 0);
  assert.equal(differing(byDefault.labels, expectDefault), 0);
  // The two settings really refine differently here, and both move voxels of the plain result.
  assert.ok(differing(expectTuned, expectDefault) > 0);
  assert.ok(differing(byManifest.labels, plain) > 0 && differing(byDefault.labels, plain) > 0);
});
