import { readFile, stat, writeFile } from 'node:fs/promises';
import { AppError, LimitError, NotFoundError } from '../errors.js';
import {
  DEFAULT_READ_LIMITS,
  readImage,
  type ImageVolume,
  type InspectGeometry,
  type ReadLimits,
} from '../io/index.js';
import { requireSingleChannel } from './volumes.js';

/** Reads an image file, refusing it by size before reading it into memory. */
export async function readImageFile(
  path: string,
  limits: ReadLimits = DEFAULT_READ_LIMITS,
  inspect?: InspectGeometry,
): Promise<ImageVolume> {
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
      'input_too_large',
      `${path} is ${size} bytes, above the ${limits.maxInputBytes}-byte limit`,
    );
  }
  const bytes = new Uint8Array(await readFile(path));
  return readImage(bytes, { name: path, limits, inspect });
}

/** Reads an image file that must hold one volume (one channel), for the single-volume commands. */
export async function readVolumeFile(path: string): Promise<ImageVolume> {
  const image = await readImageFile(path);
  requireSingleChannel(image, path);
  return image;
}

/** Writes `bytes` to `path`, turning file-system failures into a clear error. */
export async function writeOutputFile(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFile(path, bytes);
  } catch (err) {
    throw new AppError(
      'write_failed',
      500,
      `cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
}

/** True when `path` asks for a gzipped NIfTI. */
export function wantsGzip(path: string): boolean {
  return path.endsWith('.gz');
}
