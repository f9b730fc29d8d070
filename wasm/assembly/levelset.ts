// One explicit Euler step of mean-curvature motion phi_t = kappa |grad phi| on a narrow band.
// With central differences in mm and edge-replicated borders (clamped neighbour indices, numpy's
// pad mode 'edge'):
//   kappa |grad phi| = [ (fyy+fzz) fx^2 + (fxx+fzz) fy^2 + (fxx+fyy) fz^2
//                        - 2 (fx fy fxy + fx fz fxz + fy fz fyz) ] / (fx^2 + fy^2 + fz^2 + EPS)
// A size-1 axis has clamped neighbours equal to the voxel itself, so its derivatives vanish and
// the same formula is the 2D one for [w, h, 1].
// Coefficient block `coef` (10 f32): 1/(2sx), 1/(2sy), 1/(2sz), 1/sx^2, 1/sy^2, 1/sz^2,
// 1/(4 sx sy), 1/(4 sx sz), 1/(4 sy sz), dt.

/** Keeps 0/0 finite where the gradient vanishes (there the numerator is 0 too); far below |grad|^2 ~ 1 of a distance map. */
const EPS: f32 = 1e-12;

// @ts-ignore: decorator
@inline
function clampi(v: i32, hi: i32): i32 {
  return v < 0 ? 0 : v > hi ? hi : v;
}

/**
 * dst = src + dt * kappa |grad src| where |src| < band, dst = src elsewhere; volume [nx, ny, nz]
 * of f32, x fastest. `dst` and `src` must not overlap.
 */
export function levelset_step_f32(dst: usize, src: usize, nx: i32, ny: i32, nz: i32, coef: usize, band: f32): void {
  const hx = load<f32>(coef), hy = load<f32>(coef, 4), hz = load<f32>(coef, 8);
  const ixx = load<f32>(coef, 12), iyy = load<f32>(coef, 16), izz = load<f32>(coef, 20);
  const qxy = load<f32>(coef, 24), qxz = load<f32>(coef, 28), qyz = load<f32>(coef, 32);
  const dt = load<f32>(coef, 36);
  const row = <usize>nx << 2;
  const plane = row * <usize>ny;
  for (let z = 0; z < nz; z++) {
    const zc = plane * <usize>z;
    const zm = plane * <usize>clampi(z - 1, nz - 1);
    const zp = plane * <usize>clampi(z + 1, nz - 1);
    for (let y = 0; y < ny; y++) {
      const yc = row * <usize>y;
      const ym = row * <usize>clampi(y - 1, ny - 1);
      const yp = row * <usize>clampi(y + 1, ny - 1);
      const c = src + zc + yc;
      const rym = src + zc + ym, ryp = src + zc + yp;
      const rzm = src + zm + yc, rzp = src + zp + yc;
      const rmm = src + zm + ym, rmp = src + zp + ym, rpm = src + zm + yp, rpp = src + zp + yp;
      const out = dst + zc + yc;
      let x = 0;
      if (nx >= 6) {
        // Lane-wise interior: x-1 and x+1 are always inside the row.
        const bv = f32x4.splat(band);
        for (x = 1; x + 4 <= nx - 1; x += 4) {
          const o = <usize>x << 2;
          const f = v128.load(c + o);
          const inBand = f32x4.lt(f32x4.abs(f), bv);
          if (!v128.any_true(inBand)) {
            v128.store(out + o, f);
            continue;
          }
          const fl = v128.load(c + o - 4), fr = v128.load(c + o + 4);
          const two = f32x4.mul(f, f32x4.splat(2));
          const fx = f32x4.mul(f32x4.sub(fr, fl), f32x4.splat(hx));
          const fy = f32x4.mul(f32x4.sub(v128.load(ryp + o), v128.load(rym + o)), f32x4.splat(hy));
          const fz = f32x4.mul(f32x4.sub(v128.load(rzp + o), v128.load(rzm + o)), f32x4.splat(hz));
          const fxx = f32x4.mul(f32x4.sub(f32x4.add(fr, fl), two), f32x4.splat(ixx));
          const fyy = f32x4.mul(f32x4.sub(f32x4.add(v128.load(ryp + o), v128.load(rym + o)), two), f32x4.splat(iyy));
          const fzz = f32x4.mul(f32x4.sub(f32x4.add(v128.load(rzp + o), v128.load(rzm + o)), two), f32x4.splat(izz));
          const fxy = f32x4.mul(
            f32x4.sub(f32x4.sub(v128.load(ryp + o + 4), v128.load(ryp + o - 4)), f32x4.sub(v128.load(rym + o + 4), v128.load(rym + o - 4))),
            f32x4.splat(qxy),
          );
          const fxz = f32x4.mul(
            f32x4.sub(f32x4.sub(v128.load(rzp + o + 4), v128.load(rzp + o - 4)), f32x4.sub(v128.load(rzm + o + 4), v128.load(rzm + o - 4))),
            f32x4.splat(qxz),
          );
          const fyz = f32x4.mul(
            f32x4.sub(f32x4.sub(v128.load(rpp + o), v128.load(rpm + o)), f32x4.sub(v128.load(rmp + o), v128.load(rmm + o))),
            f32x4.splat(qyz),
          );
          const gx2 = f32x4.mul(fx, fx), gy2 = f32x4.mul(fy, fy), gz2 = f32x4.mul(fz, fz);
          let num = f32x4.add(
            f32x4.add(f32x4.mul(f32x4.add(fyy, fzz), gx2), f32x4.mul(f32x4.add(fxx, fzz), gy2)),
            f32x4.mul(f32x4.add(fxx, fyy), gz2),
          );
          const cross = f32x4.add(
            f32x4.add(f32x4.mul(f32x4.mul(fx, fy), fxy), f32x4.mul(f32x4.mul(fx, fz), fxz)),
            f32x4.mul(f32x4.mul(fy, fz), fyz),
          );
          num = f32x4.sub(num, f32x4.mul(cross, f32x4.splat(2)));
          const den = f32x4.add(f32x4.add(f32x4.add(gx2, gy2), gz2), f32x4.splat(EPS));
          const nf = f32x4.add(f, f32x4.mul(f32x4.splat(dt), f32x4.div(num, den)));
          v128.store(out + o, v128.bitselect(nf, f, inBand));
        }
      }
      // Row ends (x = 0, x = nx - 1) and what the lanes left over, with clamped x neighbours.
      scalarAt(out, c, rym, ryp, rzm, rzp, rmm, rmp, rpm, rpp, 0, nx, hx, hy, hz, ixx, iyy, izz, qxy, qxz, qyz, dt, band);
      for (let k = x > 1 ? x : 1; k < nx; k++) {
        scalarAt(out, c, rym, ryp, rzm, rzp, rmm, rmp, rpm, rpp, k, nx, hx, hy, hz, ixx, iyy, izz, qxy, qxz, qyz, dt, band);
      }
    }
  }
}

// @ts-ignore: decorator
@inline
function scalarAt(
  out: usize, c: usize, rym: usize, ryp: usize, rzm: usize, rzp: usize, rmm: usize, rmp: usize, rpm: usize, rpp: usize,
  x: i32, nx: i32, hx: f32, hy: f32, hz: f32, ixx: f32, iyy: f32, izz: f32, qxy: f32, qxz: f32, qyz: f32, dt: f32, band: f32,
): void {
  const o = <usize>x << 2;
  const f = load<f32>(c + o);
  if (!(abs<f32>(f) < band)) {
    store<f32>(out + o, f);
    return;
  }
  const l = <usize>clampi(x - 1, nx - 1) << 2;
  const r = <usize>clampi(x + 1, nx - 1) << 2;
  const fl = load<f32>(c + l), fr = load<f32>(c + r);
  const two = f * <f32>2;
  const fx = (fr - fl) * hx;
  const fy = (load<f32>(ryp + o) - load<f32>(rym + o)) * hy;
  const fz = (load<f32>(rzp + o) - load<f32>(rzm + o)) * hz;
  const fxx = (fr + fl - two) * ixx;
  const fyy = (load<f32>(ryp + o) + load<f32>(rym + o) - two) * iyy;
  const fzz = (load<f32>(rzp + o) + load<f32>(rzm + o) - two) * izz;
  const fxy = ((load<f32>(ryp + r) - load<f32>(ryp + l)) - (load<f32>(rym + r) - load<f32>(rym + l))) * qxy;
  const fxz = ((load<f32>(rzp + r) - load<f32>(rzp + l)) - (load<f32>(rzm + r) - load<f32>(rzm + l))) * qxz;
  const fyz = ((load<f32>(rpp + o) - load<f32>(rpm + o)) - (load<f32>(rmp + o) - load<f32>(rmm + o))) * qyz;
  const gx2 = fx * fx, gy2 = fy * fy, gz2 = fz * fz;
  let num = (fyy + fzz) * gx2 + (fxx + fzz) * gy2 + (fxx + fyy) * gz2;
  const cross = fx * fy * fxy + fx * fz * fxz + fy * fz * fyz;
  num = num - cross * <f32>2;
  const den = gx2 + gy2 + gz2 + EPS;
  store<f32>(out + o, f + dt * (num / den));
}
