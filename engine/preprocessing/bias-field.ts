/**
 * @module
 * Bias-field correction from a first segmentation (docs/robustness.md, "Bias-field correction as a
 * pipeline step"): one tissue of nearly one intensity (white matter in T1) tells where to read a
 * smooth multiplicative field. The log-intensity inside its eroded mask is fitted by a plane in the
 * brain box's coordinates (degree-1 parametric correction, Styner et al., IEEE TMI 2000); the image is
 * divided by the field only when the field is strong (its sd over the fit mask above the manifest's
 * gate), and then segmented again.
 *
 * The reference is `training/bias_field.py` (`gated:SD:poly:1`), which chose and measured this
 * estimator; test/parity/goldens_bias_field.py pins this module to it.
 *
 * Plain TypeScript, not a WASM kernel: three passes over the volume with four running sums, a few
 * hundred milliseconds on a 256^3 volume next to the second network pass it decides on (tens of
 * seconds), and float64 sums here are exact enough where the reference solves in float64 too.
 */
import type { Shape3 } from '../../wasm/src/shape.js';
import type { VoxelArray } from '../io/index.js';

/** The manifest's `inference.bias_correction`: which label is the tissue, and the gate. */
export interface BiasCorrectionSpec {
  /** The only method: a plane through the log-intensity of the eroded tissue mask. */
  method: 'wm_log_poly1';
  /** The label of the tissue of one intensity (white matter). */
  label: number;
  /** The field is divided out only when its sd over the fit mask (log units) is above this. */
  min_field_sd: number;
}

/** A fitted log-field: `log f = c[0] (u - mu) + c[1] (v - mv) + c[2] (w - mw)`, zero mean over the fit mask. */
export interface LogField {
  /** Slopes along the image's x, y, z axes, per unit of the box coordinate (each axis in [-1, 1]). */
  slopes: [number, number, number];
  /** The fit mask's mean box coordinates (the field is zero there on average). */
  centre: [number, number, number];
  /** Per axis: box coordinate = (index - lo) * scale - 1. */
  lo: [number, number, number];
  scale: [number, number, number];
  /** The field's sd over the fit mask (log units): what the gate compares. */
  sd: number;
  /** Voxels of the fit mask. */
  voxels: number;
}

/** Below this many voxels in the eroded mask there is too little tissue to read a field from (the reference's). */
const MIN_FIT_VOXELS = 1000;

/**
 * Fits the log-field of `data` (`[nx, ny, nz]`, x fastest) through the voxels of `labels` equal to
 * `label`, eroded once by the 6-neighbour cross (outside the volume counts as background, as scipy's
 * `binary_erosion` default), where the image is positive. Null when that mask has fewer than 1000
 * voxels or the image has no positive voxel.
 */
export function fitLogField(
  data: VoxelArray,
  shape: Shape3,
  labels: Uint8Array,
  label: number,
): LogField | null {
  const [nx, ny, nz] = shape;
  const box = positiveBox(data, shape);
  if (!box) return null;
  const lo = box.lo;
  // _coords in training/perturb.py: (i - lo) / max(hi - lo, 1) * 2 - 1.
  const scale = box.hi.map((h, a) => 2 / Math.max(h - lo[a], 1)) as [number, number, number];
  const plane = nx * ny;
  // Normal equations of the least-squares plane [1, u, v, w] -> log intensity, in float64.
  const ata = new Float64Array(16);
  const atb = new Float64Array(4);
  let voxels = 0;
  const row = new Float64Array(4);
  for (let z = 0; z < nz; z++) {
    const w = (z - lo[2]) * scale[2] - 1;
    for (let y = 0; y < ny; y++) {
      const v = (y - lo[1]) * scale[1] - 1;
      const base = z * plane + y * nx;
      for (let x = 0; x < nx; x++) {
        const i = base + x;
        if (!eroded(labels, label, i, x, y, z, shape, plane)) continue;
        const value = data[i];
        if (!(value > 0)) continue;
        const u = (x - lo[0]) * scale[0] - 1;
        row[0] = 1;
        row[1] = u;
        row[2] = v;
        row[3] = w;
        const li = Math.log(value);
        for (let r = 0; r < 4; r++) {
          atb[r] += row[r] * li;
          for (let c = r; c < 4; c++) ata[r * 4 + c] += row[r] * row[c];
        }
        voxels++;
      }
    }
  }
  if (voxels < MIN_FIT_VOXELS) return null;
  const n = voxels;
  // The plane in coordinates centred on the mask, [1, u - mu, v - mv, w - mw]: the same least-squares
  // fit, but where a coordinate is constant over the mask (a mask in one slice) its column is zero
  // and the minimum-norm answer gives it no slope. Uncentred, the constant column shared the mean
  // log-intensity with the intercept, and the field extrapolated to the other slices by a factor that
  // depended on the image's intensity units (found by review; training/bias_field.py centres too).
  const mean = [ata[1] / n, ata[2] / n, ata[3] / n];
  const centred = new Float64Array(16);
  const rhs = new Float64Array(4);
  centred[0] = n;
  rhs[0] = atb[0];
  for (let a = 0; a < 3; a++) {
    rhs[a + 1] = atb[a + 1] - mean[a] * atb[0];
    for (let b = 0; b <= a; b++) {
      const cov = ata[(b + 1) * 4 + (a + 1)] - n * mean[a] * mean[b];
      centred[(a + 1) * 4 + (b + 1)] = cov;
      centred[(b + 1) * 4 + (a + 1)] = cov;
    }
  }
  const coef = minimumNormSolve(centred, rhs);
  const slopes: [number, number, number] = [coef[1], coef[2], coef[3]];
  // The centred field's mean over the mask is zero, its variance s^T Cov s.
  let variance = 0;
  for (let a = 0; a < 3; a++) {
    for (let b = 0; b < 3; b++) variance += (slopes[a] * slopes[b] * centred[(a + 1) * 4 + (b + 1)]) / n;
  }
  return {
    slopes,
    centre: mean as [number, number, number],
    lo,
    scale,
    sd: Math.sqrt(Math.max(variance, 0)),
    voxels,
  };
}

/** Whether the fitted field passes the gate of `spec` (strictly above, as the reference's `sd > SD`). */
export function fieldApplies(field: LogField | null, spec: BiasCorrectionSpec): field is LogField {
  return field !== null && field.sd > spec.min_field_sd;
}

/**
 * `data` divided by the field: `x * exp(-log f)` where `x > 0`, zero elsewhere (the background and the
 * non-zero mask stay as they were), as a new float32 volume.
 */
export function divideField(data: VoxelArray, shape: Shape3, field: LogField): Float32Array {
  const [nx, ny, nz] = shape;
  const out = new Float32Array(nx * ny * nz);
  const [su, sv, sw] = field.slopes;
  const [cu, cv, cw] = field.centre;
  const axis = (a: number, i: number): number => (i - field.lo[a]) * field.scale[a] - 1;
  // exp of a plane is a product of per-axis exponentials: one exp per row, not per voxel.
  const ex = new Float64Array(nx);
  for (let x = 0; x < nx; x++) ex[x] = Math.exp(-su * (axis(0, x) - cu));
  for (let z = 0; z < nz; z++) {
    const ez = Math.exp(-sw * (axis(2, z) - cw));
    for (let y = 0; y < ny; y++) {
      const eyz = ez * Math.exp(-sv * (axis(1, y) - cv));
      const base = (z * ny + y) * nx;
      for (let x = 0; x < nx; x++) {
        const value = data[base + x];
        if (value > 0) out[base + x] = value * ex[x] * eyz;
      }
    }
  }
  return out;
}

/** The bounding box of the positive voxels, inclusive; null when there are none. */
function positiveBox(
  data: VoxelArray,
  shape: Shape3,
): { lo: [number, number, number]; hi: [number, number, number] } | null {
  const [nx, ny, nz] = shape;
  const lo: [number, number, number] = [nx, ny, nz];
  const hi: [number, number, number] = [-1, -1, -1];
  let i = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        if (!(data[i] > 0)) continue;
        if (x < lo[0]) lo[0] = x;
        if (x > hi[0]) hi[0] = x;
        if (y < lo[1]) lo[1] = y;
        if (y > hi[1]) hi[1] = y;
        if (z < lo[2]) lo[2] = z;
        if (z > hi[2]) hi[2] = z;
      }
    }
  }
  return hi[0] < 0 ? null : { lo, hi };
}

/** Voxel `i` = (x, y, z) and its six face neighbours all carry `label` (none may lie outside). */
function eroded(
  labels: Uint8Array,
  label: number,
  i: number,
  x: number,
  y: number,
  z: number,
  shape: Shape3,
  plane: number,
): boolean {
  const [nx, ny, nz] = shape;
  if (labels[i] !== label) return false;
  if (x === 0 || y === 0 || z === 0 || x === nx - 1 || y === ny - 1 || z === nz - 1) return false;
  return (
    labels[i - 1] === label &&
    labels[i + 1] === label &&
    labels[i - nx] === label &&
    labels[i + nx] === label &&
    labels[i - plane] === label &&
    labels[i + plane] === label
  );
}

/**
 * The minimum-norm least-squares solution from the normal equations `a x = b` (`a` symmetric 4x4), as
 * numpy's `lstsq` (the reference's) gives it when a column is constant over the mask (a mask in one
 * slice): a pseudo-inverse through the Jacobi eigendecomposition, eigenvalues below 1e-10 of the
 * largest taken as zero (a singular value below 1e-5 of the largest: far above the normal equations'
 * rounding, far below any real extent of a brain mask).
 */
function minimumNormSolve(a: Float64Array, b: Float64Array): Float64Array {
  const n = 4;
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q] ** 2;
    if (off <= 1e-30 * (m[0] ** 2 + m[5] ** 2 + m[10] ** 2 + m[15] ** 2)) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (apq === 0) continue;
        // The rotation that zeroes m[p][q] (Golub & Van Loan, Algorithm 8.5.1).
        const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p];
          const mkq = m[k * n + q];
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k];
          const mqk = m[q * n + k];
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const lambda = [0, 1, 2, 3].map((i) => m[i * n + i]);
  const cutoff = 1e-10 * Math.max(...lambda);
  const x = new Float64Array(n);
  for (let e = 0; e < n; e++) {
    if (!(lambda[e] > cutoff)) continue;
    let proj = 0;
    for (let k = 0; k < n; k++) proj += v[k * n + e] * b[k];
    for (let k = 0; k < n; k++) x[k] += (v[k * n + e] * proj) / lambda[e];
  }
  return x;
}
