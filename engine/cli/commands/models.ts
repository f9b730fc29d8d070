import { report, type Command } from '../command.js';
import { cliRegistry } from '../models-root.js';

/** `nnsam models`: every installed release of every model, with labels, sizes and checksum verdicts. */
export const modelsCommand: Command = {
  name: 'models',
  summary:
    'list the installed models, every release (id@version, current or not, labels, sizes, SHA-256 check)',
  usage: 'models [--models DIR] [--json]',
  help: [['--models DIR', 'model folder (default: the package models/)']],
  options: { models: { type: 'string' } },
  positionals: 0,
  async run(args, io) {
    const registry = cliRegistry(args.values.models as string | undefined);
    const summaries = await registry.summaries();
    const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
    const text = summaries
      .map((s) => {
        const labels = Object.entries(s.labels)
          .map(([n, v]) => `${String(v)}=${n}`)
          .join(',');
        const onnx = s.files.filter((f) => f.name.endsWith('.onnx'));
        return [
          `${s.id}@${s.version} ${s.current ? '(current)' : `(${s.folder})`}${s.standIn ? ' (stand-in)' : ''}`,
          `  ${s.configuration}, patch ${s.patchSize.join('x')}, spacing ${s.spacing.map((v) => v.toFixed(3)).join('x')} mm, folds ${s.folds.join(',')}`,
          `  labels ${labels}`,
          `  ${onnx.map((f) => `${f.name} ${mb(f.bytes)}`).join(', ')}; sha256 ${
            s.ok
              ? 'ok'
              : `MISMATCH (${s.files
                  .filter((f) => !f.sha256Ok)
                  .map((f) => f.name)
                  .join(', ')})`
          }`,
        ].join('\n');
      })
      .join('\n');
    report(io, args, summaries, text || 'no models installed');
  },
};
