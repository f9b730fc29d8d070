/**
 * @module
 * DICOM volumes: one file (single- or multi-frame) or a series of files, assembled into one
 * `[cols, rows, slices]` volume (x = column, y = row, as stored).
 *
 * Slices are sorted by their ImagePositionPatient projected on the slice normal (row cosine ×
 * column cosine). The slice spacing is the mean step between sorted positions; steps that differ
 * from it by more than max(0.01 mm, 1 %) — a gap or an irregular series — are an InputError, as are
 * duplicate positions. Frames without positions (multi-frame files without per-frame groups) are
 * placed at the file's position + index · (SpacingBetweenSlices, else SliceThickness) along the normal.
 *
 * The affine is in NIfTI RAS convention: DICOM's LPS affine
 * [row cos·Δcol | col cos·Δrow | normal·Δslice | first position] with its first two rows negated.
 * Files without ImageOrientationPatient get the identity orientation; without PixelSpacing
 * (or ImagerPixelSpacing) 1 mm. MONOCHROME1 values are returned as stored (no inversion).
 */
import { InputError, LimitError } from '../errors.js';
import {
  checkFramePresent,
  decodeFrame,
  dicomFrames,
  frameDatatype,
  MAX_SERIES_HEADER_ELEMENTS,
  type DicomFrame,
} from './dicom-parse.js';
import type { ImageVolume, InspectGeometry, Matrix4 } from './image.js';
import { checkExtents, checkInputBytes, resolveLimits, type ReadLimits } from './limits.js';

const cross = (a: number[], b: number[]): number[] => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
const dot = (a: number[], b: number[]): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

function unit(v: number[], what: string): number[] {
  const n = Math.hypot(v[0], v[1], v[2]);
  if (!(n > 1e-6)) throw new InputError('dicom_bad_geometry', `${what}: degenerate ImageOrientationPatient`);
  return v.map((x) => x / n);
}

/** Reads a DICOM series (one or more files, each single- or multi-frame) as one volume. */
export function readDicomSeries(
  files: Uint8Array[],
  options: { limits?: Partial<ReadLimits>; inspect?: InspectGeometry } = {},
): ImageVolume {
  const limits = resolveLimits(options.limits);
  if (!Array.isArray(files) || files.length === 0)
    throw new InputError('dicom_empty_series', 'no DICOM files given');
  checkInputBytes(
    files.reduce((sum, f) => sum + f.length, 0),
    limits,
  );
  // The series' frames so far plus each file's declared ones are checked before that file's frames
  // are built, so the frame list itself stays within the limits.
  const frames: DicomFrame[] = [];
  // Which file each frame came from, for the errors found once the geometry is known.
  const sources: string[] = [];
  let elements = 0;
  files.forEach((bytes, i) => {
    const what = files.length > 1 ? `DICOM file ${i}` : 'DICOM';
    const own = dicomFrames(
      bytes,
      what,
      (rows, cols, n) => checkExtents([cols, rows, frames.length + n], limits, what),
      (n) => {
        elements += n;
        if (elements > MAX_SERIES_HEADER_ELEMENTS) {
          throw new LimitError(
            'dicom_header_too_large',
            `${what}: the series' headers hold more than ${MAX_SERIES_HEADER_ELEMENTS} elements`,
          );
        }
      },
    );
    for (const f of own) {
      frames.push(f);
      sources.push(what);
    }
  });
  const first = frames[0];
  const row = unit(first.orientation.slice(0, 3), 'DICOM');
  const col = unit(first.orientation.slice(3, 6), 'DICOM');
  // Unit length even when the two cosines are not quite orthogonal: the slice spacing is a projection
  // on it (found by review: a skewed orientation gave 0.01 mm instead of 1 mm).
  const normal = unit(cross(row, col), 'DICOM');
  for (const f of frames) checkCompatible(first, f);
  const count = checkExtents([first.cols, first.rows, frames.length], limits, 'DICOM');

  const positions = frames.map((f) => framePosition(f, normal));
  const order = frames.map((_, i) => i).sort((a, b) => dot(positions[a], normal) - dot(positions[b], normal));
  const step = sliceSpacing(
    order.map((i) => dot(positions[i], normal)),
    first,
  );

  const [dRow, dCol] = first.pixelSpacing;
  options.inspect?.({
    shape: [first.cols, first.rows, frames.length],
    spacing: [dCol, dRow, step],
    channels: 1,
  });
  frames.forEach((f, i) => checkFramePresent(f, sources[i]));
  const data = new Float32Array(count);
  const n = first.rows * first.cols;
  order.forEach((src, k) => decodeFrame(frames[src], data.subarray(k * n, (k + 1) * n)));

  const origin = positions[order[0]];
  const lps = [0, 1, 2].map((r) => [row[r] * dCol, col[r] * dRow, normal[r] * step, origin[r]]);
  const affine: Matrix4 = [lps[0].map((v) => -v), lps[1].map((v) => -v), lps[2], [0, 0, 0, 1]];
  return {
    shape: [first.cols, first.rows, frames.length],
    spacing: [dCol, dRow, step],
    affine: affine.map((r) => r.map((v) => v + 0)), // normalise -0 to 0
    data,
    datatype: frameDatatype(first),
    format: 'dicom',
  };
}

function checkCompatible(a: DicomFrame, b: DicomFrame): void {
  const same = (x: number[], y: number[], tol: number): boolean =>
    x.every((v, i) => Math.abs(v - y[i]) <= tol);
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new InputError(
      'dicom_inconsistent_series',
      `DICOM frames differ in size: ${a.rows}x${a.cols} vs ${b.rows}x${b.cols}`,
    );
  }
  if (a.seriesUid !== b.seriesUid) {
    throw new InputError(
      'dicom_inconsistent_series',
      `DICOM files belong to different series (${a.seriesUid} vs ${b.seriesUid})`,
    );
  }
  if (!same(a.orientation, b.orientation, 1e-4)) {
    throw new InputError('dicom_inconsistent_series', 'DICOM frames have different ImageOrientationPatient');
  }
  if (!same(a.pixelSpacing, b.pixelSpacing, 1e-4 * Math.max(a.pixelSpacing[0], a.pixelSpacing[1]))) {
    throw new InputError('dicom_inconsistent_series', 'DICOM frames have different PixelSpacing');
  }
}

/** A frame's LPS position; frames without one are stacked from their file's origin. */
function framePosition(f: DicomFrame, normal: number[]): number[] {
  if (f.position && (f.frameIndex === 0 || f.positionPerFrame)) return f.position;
  const base = f.position ?? [0, 0, 0];
  if (f.frameIndex === 0) return base;
  if (f.sliceStep === null) {
    throw new InputError(
      'dicom_bad_geometry',
      'multi-frame DICOM has no per-frame positions and no SpacingBetweenSlices/SliceThickness',
    );
  }
  return base.map((v, i) => v + f.frameIndex * f.sliceStep! * normal[i]);
}

/** Mean step of the sorted projections, refusing duplicates, gaps and irregular steps. */
function sliceSpacing(projections: number[], first: DicomFrame): number {
  if (projections.length === 1) return first.sliceStep ?? 1;
  const steps = projections.slice(1).map((p, i) => p - projections[i]);
  const mean = (projections[projections.length - 1] - projections[0]) / steps.length;
  if (!Number.isFinite(mean)) {
    throw new InputError('dicom_bad_geometry', 'DICOM slice positions are not finite numbers');
  }
  if (steps.some((s) => s < 1e-4)) {
    throw new InputError('dicom_duplicate_slice', 'DICOM series has two slices at the same position');
  }
  const tol = Math.max(0.01, 0.01 * mean);
  const bad = steps.findIndex((s) => Math.abs(s - mean) > tol);
  if (bad >= 0) {
    throw new InputError(
      'dicom_nonuniform_spacing',
      `DICOM slice spacing is not uniform: step ${bad} is ${steps[bad].toFixed(4)} mm, mean ${mean.toFixed(4)} mm (missing slice?)`,
    );
  }
  return mean;
}
