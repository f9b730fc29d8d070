/**
 * @module
 * What every one-shot segmentation runs with, wherever it runs (the Worker or a node), so that a
 * result does not depend on its placement.
 */
export const ONE_SHOT_OPTIONS = { tta: true, refine: false } as const;
