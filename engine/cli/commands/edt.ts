import { distanceTransform, signedDistance } from '../../../wasm/src/edt.js';
import { sharedKernels } from '../../../wasm/src/node-loader.js';
import { writeNifti } from '../../io/index.js';
import { report, type Command } from '../command.js';
import { readVolumeFile, refuseOverwrites, wantsGzip, writeOutputFile } from '../files.js';
import { maskOf } from '../volumes.js';

/** `nnsam edt`: exact Euclidean distance transform in mm. */
export const edtCommand: Command = {
  name: 'edt',
  summary: 'exact Euclidean distance transform of a mask, in mm, with the voxel spacing',
  usage: 'edt MASK OUT [--signed] [--json]',
  help: [
    ['MASK', 'non-zero voxels are foreground'],
    ['--signed', 'signed distance: positive outside (to the nearest foreground voxel), negative inside'],
  ],
  options: { signed: { type: 'boolean', default: false } },
  positionals: 2,
  async run(args, io) {
    const [input, output] = args.positionals;
    await refuseOverwrites([input], [output]);
    const image = await readVolumeFile(input);
    const core = await sharedKernels();
    const mask = maskOf(image);
    const signed = args.values.signed === true;
    const dist = signed
      ? signedDistance(core, mask, image.shape, image.spacing)
      : distanceTransform(core, mask, image.shape, image.spacing);
    await writeOutputFile(output, writeNifti(image, dist, { gzip: wantsGzip(output), datatype: 'float32' }));
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of dist) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    report(
      io,
      args,
      { input, output, signed, min_mm: lo, max_mm: hi },
      `${input} -> ${output}: ${signed ? 'signed ' : ''}distance in mm, range [${lo.toFixed(3)}, ${hi.toFixed(3)}]`,
    );
  },
};
