import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sharedKernels } from '../../../wasm/src/node-loader.js';
import {
  readDicomSeries,
  resolveLimits,
  writeNifti,
  type ImageVolume,
  type InspectInput,
  type VoxelArray,
} from '../../io/index.js';
import { InputError } from '../../errors.js';
import { checkInputBytes } from '../../io/limits.js';
import { segment, type SegmentProgress } from '../../pipeline/segment.js';
import { workGuard } from '../../pipeline/work.js';
import { WEIGHT_VARIANTS, type WeightVariant } from '../../models/manifest.js';
import { modalityWarnings } from '../../models/modality.js';
import { formatModelReference, MODEL_REFERENCE, REFERENCE_SYNTAX } from '../../models/reference.js';
import type { Device } from '../../runtime/runtime.js';
import { nodeSliceBackend } from '../../runtime/slice-backend-node.js';
import { parseChoice, report, UsageError, type Command, type CommandIO } from '../command.js';
import { readStoredImageFile, refuseOverwrites, wantsGzip, writeOutputFile } from '../files.js';
import { checkLabelOutput, labelOutputFormat, writeLabelOutput } from '../label-output.js';
import { cliRegistry } from '../models-root.js';
import { parseWorkLimits, WORK_LIMIT_HELP, WORK_LIMIT_OPTIONS } from '../work-limits.js';

/**
 * Reads a NIfTI/PNG/JPEG/DICOM file, or a folder holding one DICOM series; `inspect` may refuse it
 * before its voxels exist. An 8- or 16-bit NIfTI keeps its stored type: segment() converts the crop.
 */
async function readInput(path: string, inspect: InspectInput): Promise<ImageVolume<VoxelArray>> {
  const info = await stat(path).catch(() => null);
  if (info?.isDirectory()) {
    // Files only (through links: git-annex and PACS caches link them), and not hidden ones
    // (.DS_Store), as a zipped series is read (engine/io/zip.ts); their sizes are checked before any is
    // read (found by review: a sub-folder was an internal error).
    const entries = (await readdir(path)).filter((n) => !n.startsWith('.')).map((n) => join(path, n));
    const stats = await Promise.all(entries.map(async (n) => [n, await stat(n).catch(() => null)] as const));
    // A dangling link is a slice not fetched (git-annex): leaving it out could shorten the volume unnoticed.
    const dangling = stats.find(([, s]) => s === null);
    if (dangling) {
      throw new InputError(
        'dicom_missing_file',
        `${dangling[0]} is a link to a file that is not there (with git-annex: git annex get)`,
      );
    }
    const regular = stats.filter(([, s]) => s?.isFile());
    const names = regular.map(([n]) => n).sort();
    const held = regular.reduce((sum, [, s]) => sum + s!.size, 0);
    checkInputBytes(held, resolveLimits());
    const files = await Promise.all(names.map(async (n) => new Uint8Array(await readFile(n))));
    return readDicomSeries(files, { inspect: (geometry) => inspect(geometry, held) });
  }
  return readStoredImageFile(path, undefined, inspect);
}

/** A one-line progress bar on a terminal's stderr; nothing otherwise. */
function progressBar(io: CommandIO): (p: SegmentProgress) => void {
  if (!io.isTTY) return () => {};
  return (p) => {
    const width = 30;
    const filled = p.total ? Math.round((p.done / p.total) * width) : 0;
    io.stderr(
      `\r${p.stage.padEnd(11)} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${p.done}/${p.total}`,
    );
    if (p.stage === 'done') io.stderr('\n');
  };
}

/** `nnsam segment`: an image in, a label map in the image's geometry out. */
export const segmentCommand: Command = {
  name: 'segment',
  summary: 'segment an image (NIfTI, DICOM series folder, PNG/JPEG) with an installed model',
  usage:
    'segment IN -o OUT --model ID[@VERSION] [--tta|--no-tta] [--device cpu|webgpu|wasm] [--threads N] [--weights fp32|fp16|int8] [--stats stats.json] [--probabilities P.nii.gz] [--max-evaluations N] [--max-memory-mb N] [--models DIR] [--json]',
  help: [
    ['IN', 'NIfTI, PNG/JPEG, a DICOM file, a folder with one DICOM series, or a zip of one'],
    [
      '-o, --output OUT',
      'label map by extension: .nii or .nii.gz (NIfTI, the input geometry), .png (2D inputs; pixel value = label, coloured palette)',
    ],
    [
      '--model ID[@VERSION]',
      'a model under the models folder: ID runs its current release, ID@VERSION one release, e.g. brain-wm-2d@1.2.0 (nnsam models lists them)',
    ],
    ['--tta, --no-tta', 'mirroring test-time augmentation (default on)'],
    [
      '--device D',
      'cpu (onnxruntime-node), webgpu (falls back to cpu without an adapter), wasm (onnxruntime-web)',
    ],
    ['--threads N', 'intra-op threads for cpu/webgpu (default 1)'],
    [
      '--weights W',
      'fp32 (default), or a smaller variant the model ships: fp16, int8 (its card gives the Dice change); on wasm its onnxruntime-web graph when shipped (fp16: the edge file)',
    ],
    ['--stats FILE', 'write per-label statistics (voxels, mL, bounding box) as JSON'],
    ['--probabilities FILE', 'also write the softmax probabilities (float32, one volume per class)'],
    ...WORK_LIMIT_HELP,
    ['--models DIR', 'model folder (default: the package models/)'],
  ],
  options: {
    output: { type: 'string', short: 'o' },
    model: { type: 'string' },
    tta: { type: 'boolean' },
    'no-tta': { type: 'boolean' },
    device: { type: 'string' },
    threads: { type: 'string' },
    weights: { type: 'string' },
    // Removed (issue 13): kept as a known option only to say why, rather than "unknown option".
    refine: { type: 'boolean' },
    stats: { type: 'string' },
    probabilities: { type: 'string' },
    models: { type: 'string' },
    ...WORK_LIMIT_OPTIONS,
  },
  positionals: 1,
  async run(args, io) {
    const [input] = args.positionals;
    const v = args.values;
    const output = v.output as string | undefined;
    const reference = v.model as string | undefined;
    if (v.refine !== undefined) {
      throw new UsageError(
        '--refine was removed: tuned on the training scans, it still cost Dice on the held-out one (bench/results/refine.md)',
      );
    }
    if (!output) throw new UsageError('-o OUT is required');
    if (!reference) throw new UsageError('--model ID is required');
    if (!MODEL_REFERENCE.test(reference)) {
      throw new UsageError(`--model: bad model reference '${reference}': ${REFERENCE_SYNTAX}`);
    }
    const format = labelOutputFormat(output);
    const probPath = v.probabilities as string | undefined;
    if (probPath !== undefined && labelOutputFormat(probPath, '--probabilities') !== 'nifti') {
      throw new UsageError(`--probabilities ${probPath}: float32 probabilities need a .nii or .nii.gz name`);
    }
    if (v.tta && v['no-tta']) throw new UsageError('--tta and --no-tta exclude each other');
    const device = parseChoice<Device>(
      v.device as string | undefined,
      'device',
      ['cpu', 'webgpu', 'wasm'],
      'cpu',
    );
    const weights = parseChoice<WeightVariant>(
      v.weights as string | undefined,
      'weights',
      WEIGHT_VARIANTS,
      'fp32',
    );
    const threads = v.threads === undefined ? 1 : Number(v.threads);
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new UsageError(`--threads wants an integer from 1 to 256, got '${String(v.threads)}'`);
    }
    const workLimits = parseWorkLimits(v);
    await refuseOverwrites([input], [output, probPath, v.stats as string | undefined]);
    const registry = cliRegistry(v.models as string | undefined);
    try {
      const model = await registry.load(reference);
      const release = formatModelReference(model.id, model.version);
      const work = {
        tta: !v['no-tta'],
        probabilities: v.probabilities !== undefined,
      };
      // The input is read (and its work bounded) before any session exists: a refusal is instant.
      const image = await readInput(input, workGuard(model.manifest, work, workLimits));
      checkLabelOutput(format, output, image);
      // Warned before the run, so a long segmentation of the wrong kind of image is not a surprise.
      const warnings = modalityWarnings(model.manifest, image);
      for (const w of warnings) io.stderr(`nnsam segment: warning: ${w}\n`);
      const folds = await registry.runtimes(
        release,
        device,
        { threads, log: (line) => io.stderr(`nnsam segment: ${line}\n`) },
        weights,
      );
      const result = await segment(await sharedKernels(), image, model.manifest, folds, {
        ...work,
        slices: await nodeSliceBackend(folds[0].info),
        onProgress: progressBar(io),
      });
      for (const w of result.warnings) io.stderr(`nnsam segment: warning: ${w}\n`);
      await writeLabelOutput(format, output, image, result.labelMap);
      if (probPath && result.probabilities) {
        await writeOutputFile(
          probPath,
          writeNifti(image, result.probabilities, { gzip: wantsGzip(probPath), datatype: 'float32' }),
        );
      }
      const summary = {
        input,
        output,
        model: model.id,
        model_version: model.version,
        weights,
        runtime: result.runtime,
        slices: result.slices,
        tta: !v['no-tta'],
        shape: image.shape,
        labels: result.stats,
        ...(result.biasField && { bias_field: result.biasField }),
        warnings: [...warnings, ...result.warnings],
        timings_ms: {
          total: Math.round(result.timings.totalMs),
          model: Math.round(result.timings.modelMs),
          model_calls: result.timings.modelCalls,
        },
      };
      if (v.stats)
        await writeOutputFile(
          v.stats as string,
          new TextEncoder().encode(`${JSON.stringify(summary, null, 2)}\n`),
        );
      const lines = result.stats.map(
        (s) =>
          `  ${s.label} ${s.name}: ${s.voxels} voxels, ${s.volume_ml.toFixed(2)} mL${s.bbox ? `, bbox [${s.bbox.start.join(',')}]-[${s.bbox.end.join(',')})` : ''}`,
      );
      const fallback = result.runtime.fallbackReason ? ` (webgpu fell back to cpu)` : '';
      report(
        io,
        args,
        summary,
        [
          `${input} -> ${output}: ${release} on ${result.runtime.provider}${fallback}, ${summary.timings_ms.total} ms (model ${summary.timings_ms.model} ms)`,
          ...lines,
          ...(result.biasField ? [`  bias field: ${biasFieldLine(result.biasField)}`] : []),
        ].join('\n'),
      );
    } finally {
      await registry.dispose();
    }
  },
};

/** How the release's bias-field correction went, for the human report. */
function biasFieldLine(b: { sd: number | null; applied: boolean }): string {
  if (b.sd === null) return 'too little tissue to fit, not corrected';
  return `sd ${b.sd.toFixed(3)}, ${b.applied ? 'divided out and segmented again' : 'under the gate, not corrected'}`;
}
