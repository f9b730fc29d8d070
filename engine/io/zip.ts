/**
 * @module
 * A zip of a DICOM series: the entries' declared sizes are checked against the read limits before
 * anything is inflated, and every inflated entry must be exactly its declared size, so a zip bomb
 * fails with a {@link LimitError} instead of exhausting memory.
 */
import { unzipSync } from 'fflate';
import { InputError, LimitError } from '../errors.js';
import type { ReadLimits } from './limits.js';

/** Most entries one zip may hold (a series is one file per slice). */
const MAX_ENTRIES = 10_000;

/** Whether `bytes` start like a zip archive (a local file header). */
export function isZip(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04
  );
}

// Folders, macOS resource forks and hidden files are not slices.
const isSliceName = (name: string) =>
  !name.endsWith('/') && !name.startsWith('__MACOSX/') && !name.split('/').pop()!.startsWith('.');

/** The files of a zip, in name order, within `limits.maxDecompressedBytes` altogether. */
export function readZipEntries(bytes: Uint8Array, limits: ReadLimits): Uint8Array[] {
  let declared = 0;
  let count = 0;
  let entries: Record<string, Uint8Array>;
  const sizes = new Map<string, number>();
  try {
    entries = unzipSync(bytes, {
      filter: (file) => {
        if (!isSliceName(file.name)) return false;
        declared += file.originalSize;
        if (++count > MAX_ENTRIES) {
          throw new LimitError('too_many_files', `the zip holds more than ${MAX_ENTRIES} files`);
        }
        if (declared > limits.maxDecompressedBytes) {
          throw new LimitError(
            'decompressed_too_large',
            `zip: its files need more than ${limits.maxDecompressedBytes} decompressed bytes`,
          );
        }
        sizes.set(file.name, file.originalSize);
        return true;
      },
    });
  } catch (err) {
    if (err instanceof LimitError) throw err;
    throw new InputError('bad_zip', `zip: ${(err as Error).message}`);
  }
  const names = Object.keys(entries).sort();
  if (names.length === 0) throw new InputError('dicom_empty_series', 'the zip holds no files');
  for (const name of names) {
    if (entries[name].length !== sizes.get(name)) {
      throw new InputError('bad_zip', `zip: ${name} inflates to another size than it declares`);
    }
  }
  return names.map((n) => entries[n]);
}
