import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_REFINE, type RefineSettings } from '../engine/postprocessing/refine.js';
import { chooseSetting, meanScores, refinementShips, type Scores, type SweepRow } from './refine-rule.js';

function row(levelsetWeight: number, iterations: number, mean: Scores): SweepRow {
  const settings: RefineSettings = { ...DEFAULT_REFINE, levelsetWeight, iterations };
  return { settings, perCase: [mean], mean };
}

test('meanScores averages per case; a distance is unknown when any case has none', () => {
  const m = meanScores([
    { dice: 0.9, asd: 0.2, hd95: 1 },
    { dice: 0.8, asd: 0.4, hd95: 2 },
  ]);
  for (const [got, want] of [
    [m.dice, 0.85],
    [m.asd!, 0.3],
    [m.hd95!, 1.5],
  ]) {
    assert.ok(Math.abs(got - want) < 1e-12, `${got} != ${want}`);
  }
  assert.deepEqual(
    meanScores([
      { dice: 0.9, asd: 0.2, hd95: 1 },
      { dice: 0, asd: null, hd95: null },
    ]),
    { dice: 0.45, asd: null, hd95: null },
  );
});

test('the choice: lowest ASD among settings that keep the unrefined Dice; ties go to the simpler setting', () => {
  const unrefined = { dice: 0.95, asd: 0.2, hd95: 1 };
  const lowerDice = row(0.5, 5, { dice: 0.949, asd: 0.1, hd95: 1 });
  const identity = row(0, 0, unrefined);
  const better = row(0.25, 2, { dice: 0.95, asd: 0.18, hd95: 1 });
  assert.equal(chooseSetting([lowerDice, identity, better], unrefined), better);
  assert.equal(chooseSetting([lowerDice, identity], unrefined), identity);
  assert.equal(chooseSetting([lowerDice], unrefined), null);
  // Equal ASD: lower HD95, then higher Dice, then fewer steps, then lower weight.
  const a = row(0.5, 2, { dice: 0.96, asd: 0.18, hd95: 1 });
  const b = row(0.25, 2, { dice: 0.96, asd: 0.18, hd95: 1 });
  const c = row(0, 1, { dice: 0.96, asd: 0.18, hd95: 1 });
  const d = row(0, 1, { dice: 0.97, asd: 0.18, hd95: 1 });
  const e = row(1, 10, { dice: 0.95, asd: 0.18, hd95: 0.9 });
  assert.equal(chooseSetting([a, b], unrefined), b);
  assert.equal(chooseSetting([a, b, c], unrefined), c);
  assert.equal(chooseSetting([a, b, c, d], unrefined), d);
  assert.equal(chooseSetting([a, b, c, d, e], unrefined), e);
});

test('the verdict: ships only when Dice is kept and ASD or HD95 is lower', () => {
  const unrefined = { dice: 0.9, asd: 0.35, hd95: 1.414 };
  assert.equal(refinementShips({ dice: 0.9, asd: 0.34, hd95: 1.414 }, unrefined), true);
  assert.equal(refinementShips({ dice: 0.91, asd: 0.35, hd95: 1.0 }, unrefined), true);
  assert.equal(refinementShips({ dice: 0.9, asd: 0.35, hd95: 1.414 }, unrefined), false);
  assert.equal(refinementShips({ dice: 0.8999, asd: 0.2, hd95: 1.0 }, unrefined), false);
  assert.equal(refinementShips({ dice: 0.9, asd: null, hd95: null }, unrefined), false);
});
