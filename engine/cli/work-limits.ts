/**
 * @module
 * The work-bound options `segment` and `serve` share (docs/work-bounds.md): one spelling, one
 * default, one parser.
 */
import { DEFAULT_WORK_LIMITS, type WorkLimits } from '../pipeline/work.js';
import { UsageError, type Command } from './command.js';

/** The options' `parseArgs` entries. */
export const WORK_LIMIT_OPTIONS = {
  'max-evaluations': { type: 'string' },
  'max-memory-mb': { type: 'string' },
} as const satisfies Command['options'];

/** Their `--help` lines. */
export const WORK_LIMIT_HELP: [string, string][] = [
  [
    '--max-evaluations N',
    `refuse an input implying more network patch evaluations a pass (after resampling, tiling, TTA, folds; default ${DEFAULT_WORK_LIMITS.maxEvaluations})`,
  ],
  [
    '--max-memory-mb N',
    `refuse an input implying more working memory (default ${DEFAULT_WORK_LIMITS.maxPeakBytes / 2 ** 20})`,
  ],
];

/** The limits from parsed option values, defaults where absent. */
export function parseWorkLimits(values: Record<string, unknown>): WorkLimits {
  const positive = (name: string, fallback: number): number => {
    const text = values[name];
    if (text === undefined) return fallback;
    const n = Number(text);
    if (typeof text !== 'string' || !Number.isSafeInteger(n) || n < 1) {
      throw new UsageError(`--${name} wants a positive integer, got '${String(text)}'`);
    }
    return n;
  };
  return {
    maxEvaluations: positive('max-evaluations', DEFAULT_WORK_LIMITS.maxEvaluations),
    maxPeakBytes: positive('max-memory-mb', DEFAULT_WORK_LIMITS.maxPeakBytes / 2 ** 20) * 2 ** 20,
  };
}
