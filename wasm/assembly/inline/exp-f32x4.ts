// exp(x) for four f32 lanes: Cephes-style range reduction x = n ln2 + r (|r| <= ln2 / 2, ln2 split in
// two parts so n ln2 is subtracted exactly), a degree-6 minimax polynomial in r, and 2^n built in
// the exponent bits. Relative error about 1e-7 (a couple of f32 ulp) over the clamped range.
// The scalar twin runs the same operations so SIMD bodies and scalar tails agree bit for bit.

/** Inputs are clamped to the normal f32 range; below -87.3 (exp < 1.2e-38) the result is flushed to 0. */
const EXP_LO: f32 = -87.33654;
const EXP_HI: f32 = 88.37626;
const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;

/** Four-lane exp. */
// @ts-ignore: decorator
@inline
export function exp_f32x4(x0: v128): v128 {
  const x = f32x4.min(f32x4.max(x0, f32x4.splat(EXP_LO)), f32x4.splat(EXP_HI));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  const r2 = f32x4.mul(r, r);
  let p = f32x4.add(f32x4.mul(f32x4.splat(P0), r), f32x4.splat(P1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P5));
  p = f32x4.add(f32x4.add(f32x4.mul(p, r2), r), f32x4.splat(1));
  // 2^n: n is in [-126, 127] after the clamp, so (n + 127) << 23 is a normal exponent field.
  const e = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return v128.andnot(f32x4.mul(p, e), f32x4.lt(x0, f32x4.splat(EXP_LO)));
}

/** Scalar exp with exactly the operations of {@link exp_f32x4}. */
// @ts-ignore: decorator
@inline
export function exp_f32(x0: f32): f32 {
  if (x0 < EXP_LO) return 0;
  const x = min<f32>(max<f32>(x0, EXP_LO), EXP_HI);
  const n = nearest<f32>(x * LOG2E);
  let r = x - n * LN2_HI;
  r = r - n * LN2_LO;
  const r2 = r * r;
  let p = P0 * r + P1;
  p = p * r + P2;
  p = p * r + P3;
  p = p * r + P4;
  p = p * r + P5;
  p = p * r2 + r + <f32>1;
  return p * reinterpret<f32>((<i32>n + 127) << 23);
}
