/**
 * @module
 * Axis codes of an affine, matching nibabel's `aff2axcodes(aff)` (via `io_orientation`): the
 * direction cosines are replaced by the nearest orthogonal matrix, then each voxel axis in turn
 * takes the world axis it is closest to, which is then removed from consideration.
 */
import { InputError } from '../errors.js';
import { copyMatrix, nearestOrthogonal } from './affine.js';

const LABELS = [
  ['L', 'R'],
  ['P', 'A'],
  ['I', 'S'],
] as const;

/** Orientation codes of a voxel-to-RAS affine, e.g. 'RAS' or 'LIA' ('?' for a degenerate axis). */
export function orientationCodes(affine: number[][]): string {
  if (
    !Array.isArray(affine) ||
    affine.length < 3 ||
    affine.some((row) => !Array.isArray(row) || row.length < 3)
  ) {
    throw new InputError('bad_affine', 'affine must be a 4x4 (or 3x3) matrix');
  }
  const rzs = [0, 1, 2].map((r) => [0, 1, 2].map((c) => affine[r][c]));
  if (rzs.some((row) => row.some((v) => !Number.isFinite(v)))) {
    throw new InputError('bad_affine', 'affine contains non-finite values');
  }
  const rs = copyMatrix(rzs);
  for (let c = 0; c < 3; c++) {
    const norm = Math.hypot(rs[0][c], rs[1][c], rs[2][c]) || 1;
    for (let r = 0; r < 3; r++) rs[r][c] /= norm;
  }
  // A singular matrix has no polar factor; its normalised columns are the best we can do.
  const rot = nearestOrthogonal(rs) ?? rs;
  let codes = '';
  for (let inAx = 0; inAx < 3; inAx++) {
    const col = [rot[0][inAx], rot[1][inAx], rot[2][inAx]];
    if (col.every((v) => Math.abs(v) <= 1e-8)) {
      codes += '?';
      continue;
    }
    let outAx = 0;
    for (let r = 1; r < 3; r++) if (Math.abs(col[r]) > Math.abs(col[outAx])) outAx = r;
    codes += LABELS[outAx][col[outAx] < 0 ? 0 : 1];
    for (let c = 0; c < 3; c++) rot[outAx][c] = 0;
  }
  return codes;
}
