import { orientationCodes } from '../../io/index.js';
import { report, type Command } from '../command.js';
import { readImageFile } from '../files.js';

/** `nnsam info IN`: geometry and datatype of an image. */
export const infoCommand: Command = {
  name: 'info',
  summary: 'print shape, spacing, datatype, affine and orientation of an image',
  usage: 'info IN [--json]',
  help: [['IN', 'NIfTI (.nii/.nii.gz), DICOM, PNG or JPEG file']],
  options: {},
  positionals: 1,
  async run(args, io) {
    const image = await readImageFile(args.positionals[0]);
    const result = {
      file: args.positionals[0],
      format: image.format,
      shape: image.shape,
      channels: image.channels ?? 1,
      spacing: image.spacing,
      datatype: image.datatype,
      orientation: orientationCodes(image.affine),
      affine: image.affine,
    };
    const text = [
      `file         ${result.file}`,
      `format       ${result.format}`,
      `shape        ${result.shape.join(' x ')}${result.channels > 1 ? ` x ${result.channels} channels` : ''}`,
      `spacing      ${result.spacing.map((s) => +s.toFixed(6)).join(' x ')} mm`,
      `datatype     ${result.datatype}`,
      `orientation  ${result.orientation}`,
      'affine',
      ...result.affine.map((row) => `  ${row.map((v) => v.toFixed(4).padStart(11)).join(' ')}`),
    ].join('\n');
    report(io, args, result, text);
  },
};
