/**
 * @module
 * `nnsam`: the command-line entry point. Parses the subcommand, runs it, and turns every expected
 * error into a one-line message on stderr with a non-zero exit (2 for usage, 1 otherwise).
 */
import { userError } from '../errors.js';
import { commandHelp, parseCommandArgs, UsageError, type Command, type CommandIO } from './command.js';
import { componentsCommand } from './commands/components.js';
import { cropCommand } from './commands/crop.js';
import { edtCommand } from './commands/edt.js';
import { infoCommand } from './commands/info.js';
import { keysCommand } from './commands/keys.js';
import { metricsCommand } from './commands/metrics.js';
import { modelsCommand } from './commands/models.js';
import { normalizeCommand } from './commands/normalize.js';
import { resampleCommand } from './commands/resample.js';
import { segmentCommand } from './commands/segment.js';
import { serveCommand } from './commands/serve.js';
import { smoothCommand } from './commands/smooth.js';

/** Every subcommand, in --help order. */
export const COMMANDS: readonly Command[] = [
  infoCommand,
  resampleCommand,
  normalizeCommand,
  cropCommand,
  edtCommand,
  componentsCommand,
  smoothCommand,
  metricsCommand,
  segmentCommand,
  modelsCommand,
  keysCommand,
  serveCommand,
];

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'nnsam: nnSAM / nnU-Net image kernels and segmentation tools',
    '',
    'usage: nnsam <command> [options]   (nnsam <command> --help for its options)',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
  ].join('\n');
}

/** Runs the CLI on `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.stdout(topic ? commandHelp(topic) : mainHelp());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (!command) throw new UsageError(`unknown command '${name}'\n${mainHelp()}`);
    const args = parseCommandArgs(command, rest);
    if (args.values.help) {
      io.stdout(commandHelp(command));
      return 0;
    }
    await command.run(args, io);
    return 0;
  } catch (caught) {
    const err = userError(caught);
    if (err) {
      io.stderr(`nnsam${command ? ` ${command.name}` : ''}: error [${err.code}]: ${err.message}\n`);
      return err instanceof UsageError ? 2 : 1;
    }
    io.stderr(`nnsam ${command?.name ?? ''}: internal error: ${(caught as Error).stack ?? caught}\n`);
    return 70;
  }
}
