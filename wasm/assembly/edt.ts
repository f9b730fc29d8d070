// Exact Euclidean distance transform with anisotropic spacing (scipy.ndimage.distance_transform_edt
// with `sampling`), separable: a two-sweep 1D pass along x, then the Felzenszwalb–Huttenlocher lower
// envelope of parabolas along y and along z, then a square root.
//
// The field holds squared distances in mm^2 (f32) between passes. The envelope arithmetic is f64:
// intersections subtract large squares, where f32 could pick a wrong parabola.
//
// Signed mode stores both transforms in ONE field: a voxel only needs the distance to the class it is
// not in, and a voxel's distance to its own class is 0, so a class-1 (foreground) voxel keeps
// -(squared distance to background) and a class-0 voxel +(squared distance to foreground). The sign
// says the class, and each line pass rebuilds both feature functions from it.

const INF: f32 = Infinity;
/** Columns gathered per block on the y/z passes: one 64-byte cache line of f32. */
const BLOCK: i32 = 16;

/**
 * First pass along x. `mode`: 0 = distance to the nearest zero voxel (foreground = non-zero),
 * 1 = distance to the nearest non-zero voxel (foreground = zero), 2 = signed (foreground non-zero).
 * Writes squared distances along x in mm^2 (Infinity where a row has no feature) to `field`.
 */
export function edt_pass_x_f32(field: usize, mask: usize, nx: i32, rows: i32, sx: f64, mode: i32): void {
  const s2 = <f32>(sx * sx);
  const invert: bool = mode == 1;
  const signed: bool = mode == 2;
  for (let r = 0; r < rows; r++) {
    const m = mask + <usize>r * <usize>nx;
    const f = field + ((<usize>r * <usize>nx) << 2);
    if (!signed && rowAll(m, nx, invert ? 1 : 0)) {
      // Every voxel is a feature: all zero. (The common case outside a brain.)
      memory.fill(f, 0, <usize>nx << 2);
      continue;
    }
    // Forward: steps since the last voxel of each class (INF before the first one).
    let d0: f32 = INF;
    let d1: f32 = INF;
    for (let x = 0; x < nx; x++) {
      const fg = (load<u8>(m + <usize>x) != 0) != invert;
      if (fg) {
        d1 = 0;
        d0 += 1;
        store<f32>(f + (<usize>x << 2), d0);
      } else {
        d0 = 0;
        d1 += 1;
        store<f32>(f + (<usize>x << 2), signed ? d1 : 0);
      }
    }
    d0 = INF;
    d1 = INF;
    for (let x = nx - 1; x >= 0; x--) {
      const p = f + (<usize>x << 2);
      const fg = (load<u8>(m + <usize>x) != 0) != invert;
      let d: f32;
      if (fg) {
        d1 = 0;
        d0 += 1;
        d = min(d0, load<f32>(p));
        store<f32>(p, signed ? -(d * d * s2) : d * d * s2);
      } else {
        d0 = 0;
        d1 += 1;
        d = min(d1, load<f32>(p));
        store<f32>(p, signed ? d * d * s2 : 0);
      }
    }
  }
}

// @ts-ignore: decorator
@inline
function rowAll(m: usize, n: i32, value: u8): bool {
  let x = 0;
  if (value == 0) {
    for (; x + 16 <= n; x += 16) if (v128.any_true(v128.load(m + <usize>x))) return false;
  }
  for (; x < n; x++) if ((load<u8>(m + <usize>x) != 0) != (value != 0)) return false;
  return true;
}

/**
 * One envelope pass along a strided axis. Lines run over `len` elements `stride` f32 apart; there are
 * `outer` groups `outerStride` apart, each `width` contiguous lines wide (the x extent).
 * `scratch` needs BLOCK*len f32 + 2 envelopes of (len i32 + (len+1) f64 + len f64), 16-byte aligned.
 */
export function edt_pass_axis_f32(
  field: usize,
  outer: i32,
  outerStride: i32,
  width: i32,
  len: i32,
  stride: i32,
  spacing: f64,
  signed: i32,
  scratch: usize,
): void {
  if (len == 1) return; // one voxel per line: nothing to add along this axis
  const lines = scratch;
  const env0 = lines + ((<usize>(BLOCK * len) * 4 + 15) & ~(<usize>15));
  const envBytes = envelopeBytes(len);
  const env1 = env0 + envBytes;
  const s2 = spacing * spacing;
  const inv = 1.0 / s2;
  for (let o = 0; o < outer; o++) {
    const base = field + ((<usize>o * <usize>outerStride) << 2);
    for (let x0 = 0; x0 < width; x0 += BLOCK) {
      const bw = min(BLOCK, width - x0);
      // Gather: each strided read brings a whole cache line of neighbouring columns.
      for (let i = 0; i < len; i++) {
        const src = base + ((<usize>i * <usize>stride + <usize>x0) << 2);
        for (let b = 0; b < bw; b++) store<f32>(lines + ((<usize>(b * len + i)) << 2), load<f32>(src + (<usize>b << 2)));
      }
      for (let b = 0; b < bw; b++) {
        const line = lines + ((<usize>(b * len)) << 2);
        if (signed != 0) signedLine(line, len, inv, s2, env0, env1);
        else unsignedLine(line, len, inv, s2, env0);
      }
      for (let i = 0; i < len; i++) {
        const dst = base + ((<usize>i * <usize>stride + <usize>x0) << 2);
        for (let b = 0; b < bw; b++) store<f32>(dst + (<usize>b << 2), load<f32>(lines + ((<usize>(b * len + i)) << 2)));
      }
    }
  }
}

// @ts-ignore: decorator
@inline
function envelopeBytes(len: i32): usize {
  // v: i32[len] | z: f64[len+1] | fv: f64[len], each rounded to 16 bytes.
  return ((<usize>len * 4 + 15) & ~(<usize>15)) + ((<usize>(len + 1) * 8 + 15) & ~(<usize>15)) + ((<usize>len * 8 + 15) & ~(<usize>15));
}

/** Squared distances along the line from non-negative feature values (0 = feature, INF = none). */
function unsignedLine(line: usize, n: i32, inv: f64, s2: f64, env: usize): void {
  // A line with no positive value is all features (already 0) or has nothing to propagate.
  let any = false;
  for (let i = 0; i < n; i++) {
    if (load<f32>(line + (<usize>i << 2)) > 0) {
      any = true;
      break;
    }
  }
  if (!any) return;
  const k = build(line, n, inv, env, 0);
  if (k < 0) return; // no finite value: stays INF
  const v = env;
  const z = v + ((<usize>n * 4 + 15) & ~(<usize>15));
  const fv = z + ((<usize>(n + 1) * 8 + 15) & ~(<usize>15));
  let j = 0;
  for (let p = 0; p < n; p++) {
    const pf = <f64>p;
    while (load<f64>(z + (<usize>(j + 1) << 3)) < pf) j++;
    const dq = pf - <f64>load<i32>(v + (<usize>j << 2));
    store<f32>(line + (<usize>p << 2), <f32>((dq * dq + load<f64>(fv + (<usize>j << 3))) * s2));
  }
}

/** Signed line: negative entries are foreground (distance to background), positive background. */
function signedLine(line: usize, n: i32, inv: f64, s2: f64, env0: usize, env1: usize): void {
  const k0 = build(line, n, inv, env0, 1);
  const k1 = build(line, n, inv, env1, 2);
  const v0 = env0;
  const z0 = v0 + ((<usize>n * 4 + 15) & ~(<usize>15));
  const f0 = z0 + ((<usize>(n + 1) * 8 + 15) & ~(<usize>15));
  const v1 = env1;
  const z1 = v1 + ((<usize>n * 4 + 15) & ~(<usize>15));
  const f1 = z1 + ((<usize>(n + 1) * 8 + 15) & ~(<usize>15));
  let j0 = 0;
  let j1 = 0;
  for (let p = 0; p < n; p++) {
    const pf = <f64>p;
    const ptr = line + (<usize>p << 2);
    if (load<f32>(ptr) < 0) {
      if (k0 < 0) continue; // no background anywhere on the plane so far: stays -INF
      while (load<f64>(z0 + (<usize>(j0 + 1) << 3)) < pf) j0++;
      const dq = pf - <f64>load<i32>(v0 + (<usize>j0 << 2));
      store<f32>(ptr, <f32>(-(dq * dq + load<f64>(f0 + (<usize>j0 << 3))) * s2));
    } else {
      if (k1 < 0) continue;
      while (load<f64>(z1 + (<usize>(j1 + 1) << 3)) < pf) j1++;
      const dq = pf - <f64>load<i32>(v1 + (<usize>j1 << 2));
      store<f32>(ptr, <f32>((dq * dq + load<f64>(f1 + (<usize>j1 << 3))) * s2));
    }
  }
}

/**
 * Builds the lower envelope of the parabolas (p - q)^2 + f(q) (index units, f scaled by 1/s^2).
 * `which`: 0 = f is the value; 1 = f is -value for negative entries, else 0 (distance to background);
 * 2 = f is the value for positive entries, else 0 (distance to foreground). Returns the last index
 * of the envelope, or -1 when every f is infinite.
 */
// @ts-ignore: decorator
@inline
function build(line: usize, n: i32, inv: f64, env: usize, which: i32): i32 {
  const v = env;
  const z = v + ((<usize>n * 4 + 15) & ~(<usize>15));
  const fv = z + ((<usize>(n + 1) * 8 + 15) & ~(<usize>15));
  let k = -1;
  for (let q = 0; q < n; q++) {
    const raw = load<f32>(line + (<usize>q << 2));
    let fr: f32;
    if (which == 0) fr = raw;
    else if (which == 1) fr = raw < 0 ? -raw : 0;
    else fr = raw > 0 ? raw : 0;
    if (fr == INF) continue;
    const fq = <f64>fr * inv;
    const qf = <f64>q;
    let s: f64 = 0;
    while (k >= 0) {
      const vk = <f64>load<i32>(v + (<usize>k << 2));
      s = (fq + qf * qf - (load<f64>(fv + (<usize>k << 3)) + vk * vk)) / (2 * (qf - vk));
      if (s <= load<f64>(z + (<usize>k << 3))) k--;
      else break;
    }
    k++;
    store<i32>(v + (<usize>k << 2), q);
    store<f64>(fv + (<usize>k << 3), fq);
    store<f64>(z + (<usize>k << 3), k == 0 ? -Infinity : s);
    store<f64>(z + (<usize>(k + 1) << 3), Infinity);
  }
  return k;
}

/** Square roots in place; in signed mode the sign is kept (sqrt of |v| times sign of v). */
export function edt_finish_f32(field: usize, n: i32, signed: i32): void {
  const n4 = n & ~3;
  const signBits = i32x4.splat(0x80000000);
  for (let i = 0; i < n4; i += 4) {
    const p = field + (<usize>i << 2);
    const v = v128.load(p);
    const r = f32x4.sqrt(f32x4.abs(v));
    v128.store(p, signed != 0 ? v128.or(r, v128.and(v, signBits)) : r);
  }
  for (let i = n4; i < n; i++) {
    const p = field + (<usize>i << 2);
    const v = load<f32>(p);
    const r = <f32>Math.sqrt(<f64>Math.abs(v));
    store<f32>(p, v < 0 ? -r : r);
  }
}
