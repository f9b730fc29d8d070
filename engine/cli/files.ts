import { open, readFile, stat } from 'node:fs/promises';
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
