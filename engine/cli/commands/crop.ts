import { cropToNonzero } from '../../../wasm/src/crop.js';
import { sharedKernels } from '../../../wasm/src/node-loader.js';
import { cropGeometry, writeNifti } from '../../io/index.js';
import { report, type Command } from '../command.js';
import { readVolumeFile, refuseOverwrites, wantsGzip, writeOutputFile } from '../files.js';

/** `nnsam crop`: crop to the bounding box of the hole-filled non-zero mask. */
export const cropCommand: Command = {
  name: 'crop',
  summary: 'crop an image to the bounding box of its hole-filled non-zero mask (nnU-Net crop_to_nonzero)',
  usage: 'crop IN OUT [--json]',
  help: [['IN OUT', 'input image, cropped output (NIfTI; .gz to compress)']],
  options: {},
  positionals: 2,
  async run(args, io) {
    const [input, output] = args.positionals;
    await refuseOverwrites([input], [output]);
    const image = await readVolumeFile(input);
    const cropped = cropToNonzero(await sharedKernels(), [image.data], image.shape);
    const geometry = cropGeometry(image, cropped.box);
    const datatype = image.datatype === 'float64' ? 'float32' : undefined;
    await writeOutputFile(
      output,
      writeNifti(image, cropped.channels[0], {
        shape: geometry.shape,
        affine: geometry.affine,
        gzip: wantsGzip(output),
        ...(datatype ? { datatype } : {}),
      }),
    );
    const { start, end } = cropped.box;
    report(
      io,
      args,
      { input, output, bbox: { start, end }, shape: image.shape, cropped_shape: cropped.shape },
      `${input} ${image.shape.join('x')} -> ${output} ${cropped.shape.join('x')}; bbox [${start.join(',')}] to [${end.join(',')}) (half-open, voxels i,j,k)`,
    );
  },
};
