/**
 * @module
 * The models the API offers: their manifests, bundled at build time. One line per model folder,
 * its current release (`models/<id>/`) first, then its other ones (`models/<id>/releases/<version>/`,
 * docs/model-versions.md); `test/workerd/api-openapi.test.ts` fails when a folder is missing here.
 */
import brainWm2d from '../../models/brain-wm-2d/manifest.json';
import brainWm2d_1_2_0 from '../../models/brain-wm-2d/releases/1.2.0/manifest.json';
import brainWm2d_2_0_0 from '../../models/brain-wm-2d/releases/2.0.0/manifest.json';
import brainWm2d_2_1_0 from '../../models/brain-wm-2d/releases/2.1.0/manifest.json';
import brainWm2d_2_2_0 from '../../models/brain-wm-2d/releases/2.2.0/manifest.json';
import tinyvitRandom from '../../models/nnsam-tinyvit-random/manifest.json';

/** Every bundled model: its current manifest, then its other releases' manifests. */
export const MANIFESTS: readonly (readonly unknown[])[] = [
  [brainWm2d, brainWm2d_1_2_0, brainWm2d_2_0_0, brainWm2d_2_1_0, brainWm2d_2_2_0],
  [tinyvitRandom],
];
