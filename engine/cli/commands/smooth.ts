import { smoothMask } from '../../../wasm/src/levelset.js';
import { sharedKernels } from '../../../wasm/src/node-loader.js';
import { writeNifti } from '../../io/index.js';
import { report, UsageError, type Command } from '../command.js';
import { readVolumeFile, refuseOverwrites, wantsGzip, writeOutputFile } from '../files.js';
import { maskOf } from '../volumes.js';

/** `nnsam smooth`: level-set curvature-flow smoothing of a binary mask. */
export const smoothCommand: Command = {
  name: 'smooth',
  summary: 'smooth a binary mask by level-set curvature flow of its signed distance in a narrow band',
  usage: 'smooth MASK OUT --iterations N [--json]',
  help: [
    ['MASK', 'non-zero voxels are foreground'],
    ['--iterations N', 'number of curvature-flow steps (required, 0 to 10000)'],
  ],
  options: { iterations: { type: 'string' } },
  positionals: 2,
  async run(args, io) {
    const [input, output] = args.positionals;
    await refuseOverwrites([input], [output]);
    const text = args.values.iterations as string | undefined;
    const iterations = Number(text);
    if (text === undefined || !Number.isInteger(iterations) || iterations < 0 || iterations > 10000) {
      throw new UsageError(`--iterations wants an integer from 0 to 10000, got '${text ?? ''}'`);
    }
    const image = await readVolumeFile(input);
    const mask = maskOf(image);
    const smoothed = smoothMask(await sharedKernels(), mask, image.shape, image.spacing, { iterations });
    await writeOutputFile(
      output,
      writeNifti(image, smoothed, { gzip: wantsGzip(output), datatype: 'uint8' }),
    );
    let before = 0;
    let after = 0;
    let changed = 0;
    for (let i = 0; i < mask.length; i++) {
      before += mask[i];
      after += smoothed[i];
      if (mask[i] !== smoothed[i]) changed++;
    }
    report(
      io,
      args,
      { input, output, iterations, voxels_before: before, voxels_after: after, voxels_changed: changed },
      `${input} -> ${output}: ${iterations} curvature-flow steps, ${before} -> ${after} voxels (${changed} changed)`,
    );
  },
};
