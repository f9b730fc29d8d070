import { nonzeroMask } from '../../../wasm/src/crop.js';
import { sharedKernels } from '../../../wasm/src/node-loader.js';
import { ctNormalize, zscoreNormalize } from '../../../wasm/src/normalize.js';
import { writeNifti } from '../../io/index.js';
import { parseChoice, parseNumberList, report, UsageError, type Command } from '../command.js';
import { readVolumeFile, refuseOverwrites, wantsGzip, writeOutputFile } from '../files.js';

/** `nnsam normalize`: nnU-Net's Z-score or CT intensity normalisation. */
export const normalizeCommand: Command = {
  name: 'normalize',
  summary: "normalise intensities with nnU-Net's zscore or CT scheme",
  usage: 'normalize IN OUT --scheme zscore|ct [--use-mask] [--ct-stats MEAN,STD,P00_5,P99_5] [--json]',
  help: [
    [
      '--scheme zscore|ct',
      'zscore: per-image mean/std; ct: clip to dataset percentiles, then dataset mean/std',
    ],
    [
      '--use-mask',
      'use and change only voxels inside the hole-filled non-zero mask (nnU-Net use_mask_for_norm)',
    ],
    ['--ct-stats M,S,LO,HI', 'dataset foreground mean, std, 0.5th and 99.5th percentiles (required for ct)'],
  ],
  options: {
    scheme: { type: 'string' },
    'use-mask': { type: 'boolean', default: false },
    'ct-stats': { type: 'string' },
  },
  positionals: 2,
  async run(args, io) {
    const [input, output] = args.positionals;
    await refuseOverwrites([input], [output]);
    if (args.values.scheme === undefined) throw new UsageError('--scheme is required (zscore|ct)');
    const scheme = parseChoice(args.values.scheme as string, 'scheme', ['zscore', 'ct'], 'zscore');
    const stats =
      scheme === 'ct'
        ? parseNumberList(args.values['ct-stats'] as string | undefined, 'ct-stats', 4)
        : undefined;
    if (stats && !(stats[1] >= 0 && stats[2] <= stats[3])) {
      throw new UsageError('--ct-stats wants MEAN,STD,P00_5,P99_5 with STD >= 0 and P00_5 <= P99_5');
    }
    const image = await readVolumeFile(input);
    const core = await sharedKernels();
    const mask = args.values['use-mask'] ? nonzeroMask(core, [image.data], image.shape) : undefined;
    const data = stats
      ? ctNormalize(
          core,
          image.data,
          { mean: stats[0], std: stats[1], p00_5: stats[2], p99_5: stats[3] },
          mask,
        )
      : zscoreNormalize(core, image.data, mask);
    await writeOutputFile(output, writeNifti(image, data, { gzip: wantsGzip(output), datatype: 'float32' }));
    const masked = mask ? mask.reduce((a, b) => a + b, 0) : data.length;
    report(
      io,
      args,
      { input, output, scheme, use_mask: mask !== undefined, voxels_normalized: masked },
      `${input} -> ${output}: ${scheme}${mask ? ` inside the non-zero mask (${masked} voxels)` : ''}`,
    );
  },
};
