/**
 * @module
 * The rules of the refinement tuning (bench/refine.ts), fixed before any number was seen:
 *
 * - **Choice, on the tuning cases only:** among the settings whose mean Dice is not below the
 *   unrefined mean Dice, the lowest mean ASD; ties broken by lower mean HD95, then higher mean Dice,
 *   then fewer curvature-flow steps, then the lower level-set weight (the setting closer to no
 *   refinement). The unrefined result itself is a candidate (weight 0, 0 steps is the probability
 *   thresholded at 0.5), so the choice may be "do nothing".
 * - **Verdict, on the validation case, once:** refinement ships when the chosen setting's Dice is not
 *   below the unrefined Dice and its ASD or HD95 is lower (issue 13: "improves ASD or HD95 without
 *   costing Dice"). Strict comparisons, no tolerance.
 */
import type { RefineSettings } from '../engine/postprocessing/refine.js';

/** Dice, ASD and HD95, averaged over the foreground labels (null distances: a mask was empty). */
export interface Scores {
  dice: number;
  asd: number | null;
  hd95: number | null;
}

/** One setting's scores on the tuning cases and their means. */
export interface SweepRow {
  settings: RefineSettings;
  perCase: Scores[];
  mean: Scores;
}

/** Mean of per-case scores; a distance is null when any case's is. */
export function meanScores(perCase: readonly Scores[]): Scores {
  const mean = (xs: (number | null)[]): number | null =>
    xs.some((x) => x === null) ? null : (xs as number[]).reduce((a, b) => a + b, 0) / xs.length;
  return {
    dice: mean(perCase.map((s) => s.dice))!,
    asd: mean(perCase.map((s) => s.asd)),
    hd95: mean(perCase.map((s) => s.hd95)),
  };
}

const orInf = (x: number | null): number => x ?? Infinity;

/** The chosen row by the module's rule, given the unrefined mean scores; null when no row qualifies. */
export function chooseSetting(rows: readonly SweepRow[], unrefined: Scores): SweepRow | null {
  const eligible = rows.filter((r) => r.mean.dice >= unrefined.dice && r.mean.asd !== null);
  const order = (a: SweepRow, b: SweepRow): number =>
    orInf(a.mean.asd) - orInf(b.mean.asd) ||
    orInf(a.mean.hd95) - orInf(b.mean.hd95) ||
    b.mean.dice - a.mean.dice ||
    a.settings.iterations - b.settings.iterations ||
    a.settings.levelsetWeight - b.settings.levelsetWeight;
  return [...eligible].sort(order)[0] ?? null;
}

/** Whether the chosen setting earns its flag on the validation case. */
export function refinementShips(chosen: Scores, unrefined: Scores): boolean {
  const lower = (a: number | null, b: number | null): boolean => a !== null && b !== null && a < b;
  return (
    chosen.dice >= unrefined.dice && (lower(chosen.asd, unrefined.asd) || lower(chosen.hd95, unrefined.hd95))
  );
}
