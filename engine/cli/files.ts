import { open, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, resolve, sep } from 'node:path';
import { AppError, LimitError, NotFoundError } from '../errors.js';
import { NODE_LIMIT_CODES } from '../protocol/node-limits.js';
import {
  DEFAULT_READ_LIMITS,
  readImage,
  type ImageVolume,
  type InspectInput,
  type ReadLimits,
  type VoxelArray,
} from '../io/index.js';
import { UsageError } from './command.js';
import { requireSingleChannel } from './volumes.js';

/** Reads an image file, refusing it by size before reading it into memory. */
export async function readImageFile(
  path: string,
  limits: ReadLimits = DEFAULT_READ_LIMITS,
  inspect?: InspectInput,
): Promise<ImageVolume> {
  return readImage(await readFileBytes(path, limits), { name: path, limits, inspect });
}

/**
 * {@link readImageFile} keeping an 8- or 16-bit integer NIfTI in its stored type (`readImage`'s
 * `storedType`), for a caller that converts it slab by slab.
 */
export async function readStoredImageFile(
  path: string,
  limits: ReadLimits = DEFAULT_READ_LIMITS,
  inspect?: InspectInput,
): Promise<ImageVolume<VoxelArray>> {
  return readImage(await readFileBytes(path, limits), { name: path, limits, inspect, storedType: true });
}

/** The bytes of `path`, refused by size before they are read; a view of the file buffer, not a copy. */
async function readFileBytes(path: string, limits: ReadLimits): Promise<Uint8Array> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new NotFoundError('file_not_found', `${path} is not a file`);
    size = info.size;
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new NotFoundError(
      'file_not_found',
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  if (size > limits.maxInputBytes) {
    throw new LimitError(
      NODE_LIMIT_CODES.inputBytes,
      `${path} is ${size} bytes, above the ${limits.maxInputBytes}-byte limit`,
    );
  }
  const buffer = await readFile(path);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Reads an image file that must hold one volume (one channel), for the single-volume commands. */
export async function readVolumeFile(path: string): Promise<ImageVolume> {
  const image = await readImageFile(path);
  requireSingleChannel(image, path);
  return image;
}

/** Writes `bytes` to `path`, turning file-system failures into a clear error. */
export async function writeOutputFile(path: string, bytes: Uint8Array): Promise<void> {
  await writeOutputChunks(path, [bytes]);
}

/** Writes `chunks` to `path` one after another as they come; a file-system failure becomes `write_failed`. */
export async function writeOutputChunks(path: string, chunks: Iterable<Uint8Array>): Promise<void> {
  try {
    const file = await open(path, 'w');
    try {
      for (const chunk of chunks) await file.write(chunk);
    } finally {
      await file.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof AppError || typeof code !== 'string') throw err;
    throw new AppError('write_failed', 500, `cannot write ${path}: ${code}`);
  }
}

/** True when `path` asks for a gzipped NIfTI. */
export function wantsGzip(path: string): boolean {
  return path.endsWith('.gz');
}

/**
 * Refuses, before any work, outputs that would write over an input or over each other (found by
 * review: `nnsam segment scan.nii -o scan.nii` replaced the scan with its labels, exit 0). Paths are
 * compared as the files they name (links followed, hard links by inode); an output inside an input
 * folder (a DICOM series) is refused only where it names a file that is there.
 */
export async function refuseOverwrites(inputs: string[], outputs: (string | undefined)[]): Promise<void> {
  const named = outputs.filter((o): o is string => o !== undefined);
  const seen = new Map<string, string>();
  for (const output of named) {
    const id = await fileIdentity(output);
    const twice = seen.get(id);
    if (twice !== undefined) throw new UsageError(`'${twice}' and '${output}' name the same output file`);
    seen.set(id, output);
  }
  for (const input of inputs) {
    const info = await stat(input).catch(() => null);
    if (!info) continue; // the read says what is wrong with it
    if (info.isDirectory()) {
      const root = `${await realpath(input)}${sep}`;
      for (const output of named) {
        const existing = await stat(output).catch(() => null);
        if (existing?.isFile() && (await realpath(output)).startsWith(root)) {
          throw new UsageError(
            `'${output}' is a file of the input folder: nnsam does not write over its input`,
          );
        }
      }
      continue;
    }
    const id = await fileIdentity(input);
    for (const output of named) {
      if ((await fileIdentity(output)) === id) {
        throw new UsageError(`'${output}' is the input: nnsam does not write over its input`);
      }
    }
  }
}

/** What file `path` names: its device and inode when it exists, else its resolved path (links followed). */
async function fileIdentity(path: string): Promise<string> {
  // As bigints: a number loses inode bits past 2^53 (Windows), and a file system that reports no
  // inode (0) is compared by path.
  const info = await stat(path, { bigint: true }).catch(() => null);
  if (info && info.ino !== 0n) return `inode:${info.dev}:${info.ino}`;
  if (info) return `path:${await realpath(path)}`;
  const folder = await realpath(dirname(resolve(path))).catch(() => dirname(resolve(path)));
  return `path:${resolve(folder, basename(path))}`;
}
