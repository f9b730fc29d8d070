/**
 * @module
 * Small dense-matrix helpers for 4x4 affines and 3x3 rotations: products, inverses, the polar
 * decomposition (nearest orthogonal matrix, as nibabel gets from an SVD) and unit quaternions.
 */
import type { Matrix4 } from './image.js';

/** The 4x4 identity. */
export function identity4(): Matrix4 {
  return [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
}

/** Product `a · b` of two 4x4 matrices. */
export function matmul4(a: Matrix4, b: Matrix4): Matrix4 {
  const out = identity4();
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[r][k] * b[k][c];
      out[r][c] = s;
    }
  }
  return out;
}

/** A deep copy of a matrix. */
export function copyMatrix(m: number[][]): number[][] {
  return m.map((row) => row.slice());
}

/** Determinant of a 3x3 matrix. */
export function det3(m: number[][]): number {
  return (
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
  );
}

/** Inverse of a 3x3 matrix, or null when it is (numerically) singular. */
export function inv3(m: number[][]): number[][] | null {
  const d = det3(m);
  if (!Number.isFinite(d) || Math.abs(d) < 1e-300) return null;
  const c = (r0: number, c0: number, r1: number, c1: number): number =>
    m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
  return [
    [c(1, 1, 2, 2) / d, -c(0, 1, 2, 2) / d, c(0, 1, 1, 2) / d],
    [-c(1, 0, 2, 2) / d, c(0, 0, 2, 2) / d, -c(0, 0, 1, 2) / d],
    [c(1, 0, 2, 1) / d, -c(0, 0, 2, 1) / d, c(0, 0, 1, 1) / d],
  ];
}

/** Column norms of the upper-left 3x3 block: the voxel sizes an affine implies. */
export function columnNorms(m: number[][]): [number, number, number] {
  const n = (c: number): number => Math.hypot(m[0][c], m[1][c], m[2][c]);
  return [n(0), n(1), n(2)];
}

/**
 * Nearest orthogonal matrix (the orthogonal factor of the polar decomposition, what nibabel gets as
 * `P · Qs` from an SVD), by Newton's iteration X ← (X + X⁻ᵀ)/2. Null for a singular matrix.
 */
export function nearestOrthogonal(m: number[][]): number[][] | null {
  let x = copyMatrix(m);
  for (let iter = 0; iter < 100; iter++) {
    const inv = inv3(x);
    if (!inv) return null;
    let change = 0;
    const next = x.map((row, r) =>
      row.map((v, c) => {
        const nv = 0.5 * (v + inv[c][r]);
        change = Math.max(change, Math.abs(nv - v));
        return nv;
      }),
    );
    x = next;
    if (change < 1e-15) break;
  }
  return x;
}

/**
 * Rotation matrix of the quaternion (w, x, y, z), normalised first like nibabel's `quat2mat`
 * (a near-zero quaternion gives the identity).
 */
export function quaternionToMatrix(w: number, x: number, y: number, z: number): number[][] {
  const nq = w * w + x * x + y * y + z * z;
  if (nq < 2.220446049250313e-16) {
    return [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ];
  }
  const s = 2 / nq;
  const [X, Y, Z] = [x * s, y * s, z * s];
  const [wX, wY, wZ] = [w * X, w * Y, w * Z];
  const [xX, xY, xZ] = [x * X, x * Y, x * Z];
  const [yY, yZ, zZ] = [y * Y, y * Z, z * Z];
  return [
    [1 - (yY + zZ), xY - wZ, xZ + wY],
    [xY + wZ, 1 - (xX + zZ), yZ - wX],
    [xZ - wY, yZ + wX, 1 - (xX + yY)],
  ];
}

/** Unit quaternion [w, x, y, z] (w ≥ 0) of a proper rotation matrix (Shepperd's method). */
export function matrixToQuaternion(r: number[][]): [number, number, number, number] {
  const tr = r[0][0] + r[1][1] + r[2][2];
  let q: [number, number, number, number];
  if (tr > 0) {
    const s = 2 * Math.sqrt(1 + tr);
    q = [s / 4, (r[2][1] - r[1][2]) / s, (r[0][2] - r[2][0]) / s, (r[1][0] - r[0][1]) / s];
  } else if (r[0][0] > r[1][1] && r[0][0] > r[2][2]) {
    const s = 2 * Math.sqrt(1 + r[0][0] - r[1][1] - r[2][2]);
    q = [(r[2][1] - r[1][2]) / s, s / 4, (r[0][1] + r[1][0]) / s, (r[0][2] + r[2][0]) / s];
  } else if (r[1][1] > r[2][2]) {
    const s = 2 * Math.sqrt(1 + r[1][1] - r[0][0] - r[2][2]);
    q = [(r[0][2] - r[2][0]) / s, (r[0][1] + r[1][0]) / s, s / 4, (r[1][2] + r[2][1]) / s];
  } else {
    const s = 2 * Math.sqrt(1 + r[2][2] - r[0][0] - r[1][1]);
    q = [(r[1][0] - r[0][1]) / s, (r[0][2] + r[2][0]) / s, (r[1][2] + r[2][1]) / s, s / 4];
  }
  const norm = Math.hypot(...q);
  const sign = q[0] < 0 ? -1 : 1;
  return q.map((v) => (sign * v) / norm) as [number, number, number, number];
}

/** True when every entry of `a` and `b` agrees within `tol`. */
export function matricesClose(a: number[][], b: number[][], tol: number): boolean {
  return a.every((row, r) => row.every((v, c) => Math.abs(v - b[r][c]) <= tol));
}
