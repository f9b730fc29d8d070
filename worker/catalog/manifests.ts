/**
 * @module
 * The models the API offers: their manifests, bundled at build time. One line per model folder;
 * `test/workerd/api-models.test.ts` fails when a `models/<id>/manifest.json` is missing here.
 */
import brainWm2d from '../../models/brain-wm-2d/manifest.json';
import tinyvitRandom from '../../models/nnsam-tinyvit-random/manifest.json';

/** Every bundled model manifest. */
export const MANIFESTS: readonly unknown[] = [brainWm2d, tinyvitRandom];
