import { keepLargestComponent, labelComponents } from '../../../wasm/src/components.js';
import { sharedKernels } from '../../../wasm/src/node-loader.js';
import { writeNifti } from '../../io/index.js';
import { report, type Command } from '../command.js';
import { readVolumeFile, refuseOverwrites, wantsGzip, writeOutputFile } from '../files.js';
import { labelDatatype, maskOf } from '../volumes.js';

/** `nnsam components`: connected components with full connectivity. */
export const componentsCommand: Command = {
  name: 'components',
  summary: 'label connected components (full connectivity: 26 in 3D, 8 in 2D), or keep the largest',
  usage: 'components MASK OUT [--largest] [--json]',
  help: [
    ['MASK', 'non-zero voxels are foreground'],
    ['--largest', 'write a 0/1 mask of the largest component instead of the component labels'],
  ],
  options: { largest: { type: 'boolean', default: false } },
  positionals: 2,
  async run(args, io) {
    const [input, output] = args.positionals;
    await refuseOverwrites([input], [output]);
    const image = await readVolumeFile(input);
    const core = await sharedKernels();
    const mask = maskOf(image);
    const found = labelComponents(core, mask, image.shape);
    const gzip = wantsGzip(output);
    const out = args.values.largest ? keepLargestComponent(core, mask, image.shape) : found.labels;
    await writeOutputFile(output, writeNifti(image, out, { gzip, datatype: labelDatatype(out) }));
    const largest = found.sizes.length ? Math.max(...found.sizes) : 0;
    report(
      io,
      args,
      {
        input,
        output,
        count: found.count,
        sizes: found.sizes,
        largest_voxels: largest,
        kept_largest: args.values.largest === true,
      },
      `${input}: ${found.count} component(s), largest ${largest} voxels -> ${output}${args.values.largest ? ' (largest only)' : ''}`,
    );
  },
};
