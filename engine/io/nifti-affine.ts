/**
 * @module
 * NIfTI header fields ⇄ affine, following nibabel 5 exactly:
 * - read: `get_best_affine` — sform if sform_code ≠ 0, else qform if qform_code ≠ 0, else the
 *   Analyze "base" affine (x flipped, origin at the volume centre);
 * - the header fixes nibabel applies on load: pixdim[1..3] of 0 → 1, negative → |pixdim|,
 *   qfac (pixdim[0]) not ±1 → 1, unknown xform codes → 0;
 * - write: `set_qform` — zooms = column norms, qfac = sign of det, nearest orthogonal rotation.
 */
import { InputError } from '../errors.js';
import {
  columnNorms,
  det3,
  identity4,
  matrixToQuaternion,
  nearestOrthogonal,
  quaternionToMatrix,
} from './affine.js';
import type { Matrix4, NiftiHeaderInfo, Spacing3 } from './image.js';

/** nibabel's tolerance on a negative w² when completing the quaternion (3 float eps). */
const W2_THRESHOLD = { 1: -3 * 2 ** -23, 2: -3 * 2 ** -52 } as const;

/** Valid xform codes (nibabel 5 knows 0..5; 5 = template other). */
function xformCode(code: number): number {
  return Number.isInteger(code) && code >= 0 && code <= 5 ? code : 0;
}

/** pixdim[1..3] after nibabel's fixes (0 → 1, negative → absolute value). */
function fixedPixdim(h: NiftiHeaderInfo): Spacing3 {
  return [1, 2, 3].map((i) => Math.abs(h.pixdim[i]) || 1) as Spacing3;
}

/** Voxel sizes as nibabel's `get_zooms` (fixed pixdim; axes past dim[0] count as 1 mm). */
export function fixedZooms(h: NiftiHeaderInfo): Spacing3 {
  const p = fixedPixdim(h);
  return [0, 1, 2].map((i) => (i < h.dim[0] ? p[i] : 1)) as Spacing3;
}

/** The qform affine (nibabel `get_qform`). */
export function qformAffine(h: NiftiHeaderInfo): Matrix4 {
  const [b, c, d] = h.quatern;
  if (![b, c, d, ...h.qoffset].every(Number.isFinite)) {
    throw new InputError('nifti_bad_qform', 'qform parameters are not finite');
  }
  const w2 = 1 - (b * b + c * c + d * d);
  if (w2 < W2_THRESHOLD[h.version]) {
    throw new InputError('nifti_bad_qform', `qform quaternion is not unit length (w² = ${w2})`);
  }
  const rot = quaternionToMatrix(w2 < 0 ? 0 : Math.sqrt(w2), b, c, d);
  const zooms = fixedPixdim(h);
  const qfac = h.pixdim[0] === -1 ? -1 : 1;
  zooms[2] *= qfac;
  const out = identity4();
  for (let r = 0; r < 3; r++) {
    for (let col = 0; col < 3; col++) out[r][col] = rot[r][col] * zooms[col];
    out[r][3] = h.qoffset[r];
  }
  return out;
}

/** The sform affine (nibabel `get_sform`). */
export function sformAffine(h: NiftiHeaderInfo): Matrix4 {
  if (!h.srow.every((row) => row.every(Number.isFinite))) {
    throw new InputError('nifti_bad_sform', 'sform rows are not finite');
  }
  return [...h.srow.map((row) => row.slice()), [0, 0, 0, 1]];
}

/** nibabel's fallback when neither transform is coded: x flipped, origin at the volume centre. */
export function baseAffine(shape: readonly number[], zooms: Spacing3): Matrix4 {
  const out = identity4();
  const z = [-zooms[0], zooms[1], zooms[2]];
  for (let i = 0; i < 3; i++) {
    out[i][i] = z[i];
    out[i][3] = (-(shape[i] - 1) / 2) * z[i];
  }
  return out;
}

/** nibabel `get_best_affine` for a parsed header and its 3D shape. */
export function bestAffine(h: NiftiHeaderInfo, shape: readonly number[]): Matrix4 {
  if (xformCode(h.sformCode) !== 0) return sformAffine(h);
  if (xformCode(h.qformCode) !== 0) return qformAffine(h);
  return baseAffine(shape, fixedZooms(h));
}

/** The qform fields nibabel's `set_qform` derives from an affine. */
export interface QformFields {
  quatern: [number, number, number];
  qoffset: [number, number, number];
  qfac: 1 | -1;
  zooms: Spacing3;
}

/** Encodes an affine as qform fields (shears are stripped, as nibabel does by default). */
export function affineToQform(affine: Matrix4): QformFields {
  const rzs = [0, 1, 2].map((r) => [0, 1, 2].map((c) => affine[r][c]));
  const zooms = columnNorms(rzs);
  if (!zooms.every((z) => Number.isFinite(z) && z > 0)) {
    throw new InputError('bad_affine', 'affine has a zero or non-finite column; it cannot be a qform');
  }
  const rot = rzs.map((row) => row.map((v, c) => v / zooms[c]));
  let qfac: 1 | -1 = 1;
  if (det3(rot) < 0) {
    qfac = -1;
    for (let r = 0; r < 3; r++) rot[r][2] *= -1;
  }
  const ortho = nearestOrthogonal(rot);
  if (!ortho) throw new InputError('bad_affine', 'affine is singular; it cannot be a qform');
  const [, b, c, d] = matrixToQuaternion(ortho);
  return { quatern: [b, c, d], qoffset: [affine[0][3], affine[1][3], affine[2][3]], qfac, zooms };
}
