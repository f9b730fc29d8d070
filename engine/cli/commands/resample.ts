import {
  chooseSeparateZ,
  computeNewShape,
  resampleLabels,
  resampleVolume,
  type InterpOrder,
} from '../../../wasm/src/resample.js';
import { sharedKernels } from '../../../wasm/src/node-loader.js';
import type { Shape3, Spacing3 } from '../../../wasm/src/shape.js';
import { resampleGeometry, writeNifti } from '../../io/index.js';
import { parseChoice, parseNumberList, report, UsageError, type Command } from '../command.js';
import { readVolumeFile, refuseOverwrites, wantsGzip, writeOutputFile } from '../files.js';
import { labelDatatype, labelsOf } from '../volumes.js';

const ORDERS = ['0', '1', '3'] as const;

/** `nnsam resample`: nnU-Net resampling to a target spacing. */
export const resampleCommand: Command = {
  name: 'resample',
  summary: 'resample an image or label map to a new spacing with nnU-Net semantics',
  usage:
    'resample IN OUT --spacing X,Y,Z [--order 0|1|3] [--order-z 0|1|3] [--separate-z auto|on|off] [--label] [--json]',
  help: [
    ['--spacing X,Y,Z', 'target spacing in mm, in NIfTI axis order i,j,k (required)'],
    ['--order 0|1|3', 'interpolation order (default 3 for images, 1 for --label)'],
    ['--order-z 0|1|3', 'order along the low-resolution axis when resampling it separately (default 0)'],
    [
      '--separate-z auto|on|off',
      'resample the low-resolution axis separately; auto: when max/min spacing > 3 (default)',
    ],
    ['--label', 'treat IN as a label map: one-hot resampling per label, integer output'],
  ],
  options: {
    spacing: { type: 'string' },
    order: { type: 'string' },
    'order-z': { type: 'string' },
    'separate-z': { type: 'string' },
    label: { type: 'boolean', default: false },
  },
  positionals: 2,
  async run(args, io) {
    const [input, output] = args.positionals;
    await refuseOverwrites([input], [output]);
    const target = parseNumberList(args.values.spacing as string | undefined, 'spacing', 3);
    if (target.some((s) => s <= 0))
      throw new UsageError(`--spacing must be positive, got ${target.join(',')}`);
    const isLabel = args.values.label === true;
    const order = Number(
      parseChoice(args.values.order as string | undefined, 'order', ORDERS, isLabel ? '1' : '3'),
    ) as InterpOrder;
    const orderZ = Number(
      parseChoice(args.values['order-z'] as string | undefined, 'order-z', ORDERS, '0'),
    ) as InterpOrder;
    const separate = parseChoice(
      args.values['separate-z'] as string | undefined,
      'separate-z',
      ['auto', 'on', 'off'],
      'auto',
    );

    const image = await readVolumeFile(input);
    const newSpacing = target as unknown as Spacing3;
    const newShape: Shape3 = computeNewShape(image.shape, image.spacing, newSpacing);
    const separateZAxis = chooseSeparateZ(image.spacing, newSpacing, separate);
    const options = { order, orderZ, separateZAxis };
    const core = await sharedKernels();
    const geometry = resampleGeometry(image, [newShape[0], newShape[1], newShape[2]]);
    let bytes: Uint8Array;
    if (isLabel) {
      const labels = resampleLabels(core, labelsOf(image, input), image.shape, newShape, options);
      bytes = writeNifti(image, labels, {
        shape: geometry.shape,
        affine: geometry.affine,
        gzip: wantsGzip(output),
        datatype: labelDatatype(labels),
      });
    } else {
      const data = resampleVolume(core, image.data, image.shape, newShape, options);
      bytes = writeNifti(image, data, {
        shape: geometry.shape,
        affine: geometry.affine,
        gzip: wantsGzip(output),
        datatype: 'float32',
      });
    }
    await writeOutputFile(output, bytes);
    const result = {
      input,
      output,
      shape: image.shape,
      new_shape: geometry.shape,
      spacing: image.spacing,
      target_spacing: target,
      new_spacing: geometry.spacing,
      order,
      order_z: orderZ,
      separate_z_axis: separateZAxis,
      label: isLabel,
    };
    report(
      io,
      args,
      result,
      `${input} ${image.shape.join('x')} @ ${image.spacing.map((s) => +s.toFixed(4)).join(',')} mm -> ${output} ${geometry.shape.join('x')} @ ${geometry.spacing.map((s) => +s.toFixed(4)).join(',')} mm` +
        ` (order ${order}${separateZAxis === null ? '' : `, axis ${separateZAxis} separately with order ${orderZ}`})`,
    );
  },
};
