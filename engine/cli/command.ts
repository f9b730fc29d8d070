/**
 * @module
 * The shape of a CLI subcommand and the shared argument parsing (node's util.parseArgs, strict).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AppError } from '../errors.js';

/** A bad command line: unknown option, missing argument, malformed value. Exit code 2. */
export class UsageError extends AppError {
  constructor(message: string) {
    super('usage', 400, message);
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parsed command line of one subcommand. */
export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
}

/** Where a command writes; injectable so tests can capture it. */
export interface CommandIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** True when stdout is a terminal (progress bars, colours). */
  isTTY: boolean;
}

/** One `nnsam` subcommand. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The usage line(s), without the leading `nnsam`. */
  usage: string;
  /** Option descriptions for --help, in display order: `[flag, description]`. */
  help: [string, string][];
  options: Options;
  /** Exact number of positional arguments. */
  positionals: number;
  run(args: ParsedArgs, io: CommandIO): Promise<void>;
}

const COMMON: Options = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

/** Parses `argv` for `command`; throws UsageError with the reason and the usage line. */
export function parseCommandArgs(command: Command, argv: string[]): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...COMMON, ...command.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nusage: nnsam ${command.usage}`);
  }
  if (!parsed.values.help && parsed.positionals.length !== command.positionals) {
    throw new UsageError(
      `${command.name} takes ${command.positionals} argument(s), got ${parsed.positionals.length}\nusage: nnsam ${command.usage}`,
    );
  }
  return { positionals: parsed.positionals, values: parsed.values as ParsedArgs['values'] };
}

/** The --help text of `command`. */
export function commandHelp(command: Command): string {
  const flags = [
    ...command.help,
    ['--json', 'print the result as JSON on stdout'],
    ['-h, --help', 'show this help'],
  ];
  const width = Math.max(...flags.map(([f]) => f.length));
  return [
    `nnsam ${command.name}: ${command.summary}`,
    '',
    `usage: nnsam ${command.usage}`,
    '',
    'options:',
    ...flags.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`),
    '',
  ].join('\n');
}

/** A comma-separated list of exactly `n` finite numbers (n = 0: any count). */
export function parseNumberList(text: string | undefined, option: string, n: number): number[] {
  if (text === undefined) throw new UsageError(`--${option} is required`);
  const parts = text.split(',').map((s) => Number(s.trim()));
  if ((n > 0 && parts.length !== n) || parts.some((v) => !Number.isFinite(v) || text.trim() === '')) {
    throw new UsageError(
      `--${option} wants ${n > 0 ? n : 'a list of'} comma-separated numbers, got '${text}'`,
    );
  }
  return parts;
}

/** One value of a closed set of choices. */
export function parseChoice<T extends string>(
  text: string | undefined,
  option: string,
  choices: readonly T[],
  fallback: T,
): T {
  if (text === undefined) return fallback;
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(`--${option} must be one of ${choices.join('|')}, got '${text}'`);
  }
  return text as T;
}

/** Prints `result` as JSON with --json, else the human-readable `text`. */
export function report(io: CommandIO, args: ParsedArgs, result: unknown, text: string): void {
  io.stdout(args.values.json ? `${JSON.stringify(result, null, 2)}\n` : `${text}\n`);
}
