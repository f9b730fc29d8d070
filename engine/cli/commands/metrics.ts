import { labelMetrics } from '../../../wasm/src/metrics.js';
import { sharedKernels } from '../../../wasm/src/node-loader.js';
import { InputError } from '../../errors.js';
import { parseNumberList, report, UsageError, type Command } from '../command.js';
import { readVolumeFile } from '../files.js';
import { labelsOf } from '../volumes.js';

/** `nnsam metrics`: Dice, ASD and HD95 per label. */
export const metricsCommand: Command = {
  name: 'metrics',
  summary:
    'Dice, average symmetric surface distance and HD95 (mm) per label of a prediction against a reference',
  usage: 'metrics PRED REF [--labels 1,2] [--json]',
  help: [
    ['PRED REF', 'label maps of the same shape'],
    ['--labels 1,2', 'labels to score (default: every non-zero label in either map)'],
  ],
  options: { labels: { type: 'string' } },
  positionals: 2,
  async run(args, io) {
    const [predPath, refPath] = args.positionals;
    const requested =
      args.values.labels === undefined
        ? undefined
        : parseNumberList(args.values.labels as string, 'labels', 0);
    if (requested?.some((l) => !Number.isInteger(l))) throw new UsageError('--labels wants integers');
    const [pred, ref] = await Promise.all([readVolumeFile(predPath), readVolumeFile(refPath)]);
    if (pred.shape.join() !== ref.shape.join()) {
      throw new InputError(
        'shape_mismatch',
        `${predPath} is ${pred.shape.join('x')} but ${refPath} is ${ref.shape.join('x')}`,
      );
    }
    const p = labelsOf(pred, predPath);
    const r = labelsOf(ref, refPath);
    const labels = requested ?? [...new Set([...p, ...r])].filter((l) => l !== 0).sort((a, b) => a - b);
    const result = labelMetrics(await sharedKernels(), p, r, ref.shape, ref.spacing, labels);
    const fmt = (v: number | null) => (v === null ? 'n/a' : v.toFixed(4));
    const text = Object.entries(result)
      .map(
        ([label, m]) =>
          `label ${label}: dice ${fmt(m.dice)}  asd ${fmt(m.asd_mm)} mm  hd95 ${fmt(m.hd95_mm)} mm`,
      )
      .join('\n');
    report(io, args, result, text || 'no labels to score');
  },
};
