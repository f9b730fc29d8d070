// One 1D resampling step on sixteen lines at once, shared by the axis passes of resample.ts.
// Scipy's zoom is a tensor product of 1D B-spline steps, so running this axis by axis reproduces it.
// A sample of the sixteen lines is four v128 (64 bytes): four independent vectors keep the
// recursive prefilter's dependency chains overlapped and use whole cache lines in strided passes.
//
// Line layout in `line`: `pad` copies of the first sample, the n samples, `pad` copies of the last.
// That is scipy's edge pre-padding (12 samples for order 3, `_prepad_for_spline_filter`) and, for
// orders 0/1 (pad 1), the clamping of out-of-range taps that mode 'nearest' does.
// Table `tab`, per output sample: i32 first tap (index into the padded line) and order+1 f32 weights,
// in a 5-word (20-byte) record.

/** Cubic B-spline pole sqrt(3) - 2 (scipy ni_splines.c get_filter_poles). */
const POLE: f32 = -0.267949192431122706472553658494127633;
/** Terms of the causal initial sum kept; |POLE|^20 < 4e-12, far below f32 precision. */
const INIT_TERMS: i32 = 20;
/**
 * The recursions decay geometrically over runs of zeros (image background) into subnormal floats,
 * which x86 computes about 100x slower. Every 16 samples, values below this are set to 0: in 16
 * steps a value above it stays above 1e-29, and the change to any result is below 1e-20.
 */
const FLUSH: f32 = 1e-20;

// @ts-ignore: decorator
@inline
function flush(v: v128, thr: v128): v128 {
  return v128.and(v, f32x4.ge(f32x4.abs(v), thr));
}

/** Writes the edge copies around the n samples already stored at line[pad .. pad+n). */
// @ts-ignore: decorator
@inline
function padLine(line: usize, n: i32, pad: i32): void {
  const f = line + (<usize>pad << 6);
  const l = line + (<usize>(pad + n - 1) << 6);
  const f0 = v128.load(f), f1 = v128.load(f, 16), f2 = v128.load(f, 32), f3 = v128.load(f, 48);
  const l0 = v128.load(l), l1 = v128.load(l, 16), l2 = v128.load(l, 32), l3 = v128.load(l, 48);
  for (let i = 0; i < pad; i++) {
    const p = line + (<usize>i << 6);
    v128.store(p, f0); v128.store(p, f1, 16); v128.store(p, f2, 32); v128.store(p, f3, 48);
    const q = l + (<usize>(i + 1) << 6);
    v128.store(q, l0); v128.store(q, l1, 16); v128.store(q, l2, 32); v128.store(q, l3, 48);
  }
}

/**
 * In-place cubic B-spline prefilter of a line of `len` samples with scipy's 'nearest' boundary
 * initialisation (ni_splines.c: gain, `_init_causal_reflect`, causal pass, `_init_anticausal_reflect`,
 * anticausal pass). The reflect init sums the whole line weighted by z^i (plus a z^len term that is
 * < 1e-14 for len >= 25); the sum is truncated where the weights vanish in f32.
 */
// @ts-ignore: decorator
@inline
function prefilterCubic(line: usize, len: i32): void {
  const z = f32x4.splat(POLE);
  const gain = f32x4.splat(<f32>((1.0 - <f64>POLE) * (1.0 - 1.0 / <f64>POLE)));
  const terms = len < INIT_TERMS ? len : INIT_TERMS;
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let zi: f32 = 1;
  for (let i = 0; i < terms; i++) {
    const p = line + (<usize>i << 6);
    const w = f32x4.splat(zi);
    a0 = f32x4.add(a0, f32x4.mul(w, v128.load(p)));
    a1 = f32x4.add(a1, f32x4.mul(w, v128.load(p, 16)));
    a2 = f32x4.add(a2, f32x4.mul(w, v128.load(p, 32)));
    a3 = f32x4.add(a3, f32x4.mul(w, v128.load(p, 48)));
    zi *= POLE;
  }
  // Causal: c0 = gain * (x0 + z * sum_i z^i x_i), then c[i] = gain * x[i] + z * c[i-1].
  let p0 = f32x4.mul(gain, f32x4.add(v128.load(line), f32x4.mul(z, a0)));
  let p1 = f32x4.mul(gain, f32x4.add(v128.load(line, 16), f32x4.mul(z, a1)));
  let p2 = f32x4.mul(gain, f32x4.add(v128.load(line, 32), f32x4.mul(z, a2)));
  let p3 = f32x4.mul(gain, f32x4.add(v128.load(line, 48), f32x4.mul(z, a3)));
  v128.store(line, p0); v128.store(line, p1, 16); v128.store(line, p2, 32); v128.store(line, p3, 48);
  const thr = f32x4.splat(FLUSH);
  for (let i = 1; i < len; i++) {
    if ((i & 15) == 0) {
      p0 = flush(p0, thr); p1 = flush(p1, thr); p2 = flush(p2, thr); p3 = flush(p3, thr);
    }
    const p = line + (<usize>i << 6);
    p0 = f32x4.add(f32x4.mul(gain, v128.load(p)), f32x4.mul(z, p0));
    p1 = f32x4.add(f32x4.mul(gain, v128.load(p, 16)), f32x4.mul(z, p1));
    p2 = f32x4.add(f32x4.mul(gain, v128.load(p, 32)), f32x4.mul(z, p2));
    p3 = f32x4.add(f32x4.mul(gain, v128.load(p, 48)), f32x4.mul(z, p3));
    v128.store(p, p0); v128.store(p, p1, 16); v128.store(p, p2, 32); v128.store(p, p3, 48);
  }
  // Anticausal: c[n-1] *= z / (z - 1), then c[i] = z * (c[i+1] - c[i]).
  const zz = f32x4.splat(<f32>(<f64>POLE / (<f64>POLE - 1.0)));
  p0 = f32x4.mul(zz, p0); p1 = f32x4.mul(zz, p1); p2 = f32x4.mul(zz, p2); p3 = f32x4.mul(zz, p3);
  const e = line + (<usize>(len - 1) << 6);
  v128.store(e, p0); v128.store(e, p1, 16); v128.store(e, p2, 32); v128.store(e, p3, 48);
  for (let i = len - 2; i >= 0; i--) {
    if ((i & 15) == 0) {
      p0 = flush(p0, thr); p1 = flush(p1, thr); p2 = flush(p2, thr); p3 = flush(p3, thr);
    }
    const p = line + (<usize>i << 6);
    p0 = f32x4.mul(z, f32x4.sub(p0, v128.load(p)));
    p1 = f32x4.mul(z, f32x4.sub(p1, v128.load(p, 16)));
    p2 = f32x4.mul(z, f32x4.sub(p2, v128.load(p, 32)));
    p3 = f32x4.mul(z, f32x4.sub(p3, v128.load(p, 48)));
    v128.store(p, p0); v128.store(p, p1, 16); v128.store(p, p2, 32); v128.store(p, p3, 48);
  }
}

// @ts-ignore: decorator
@inline
function tap4(p: usize, w0: v128, w1: v128, w2: v128, w3: v128, off: usize): v128 {
  let s = f32x4.mul(v128.load(p + off), w0);
  s = f32x4.add(s, f32x4.mul(v128.load(p + off, 64), w1));
  s = f32x4.add(s, f32x4.mul(v128.load(p + off, 128), w2));
  return f32x4.add(s, f32x4.mul(v128.load(p + off, 192), w3));
}

// @ts-ignore: decorator
@inline
function tap2(p: usize, w0: v128, w1: v128, off: usize): v128 {
  return f32x4.add(f32x4.mul(v128.load(p + off), w0), f32x4.mul(v128.load(p + off, 64), w1));
}

/** Interpolates `nOut` samples of the padded `line` into `out` (64 bytes each) with the tap table. */
// @ts-ignore: decorator
@inline
function interpolateLine(line: usize, out: usize, nOut: i32, order: i32, tab: usize): void {
  for (let j = 0; j < nOut; j++) {
    const t = tab + <usize>j * 20;
    const p = line + (<usize>load<i32>(t) << 6);
    const q = out + (<usize>j << 6);
    if (order == 3) {
      const w0 = v128.load32_splat(t + 4), w1 = v128.load32_splat(t + 8);
      const w2 = v128.load32_splat(t + 12), w3 = v128.load32_splat(t + 16);
      v128.store(q, tap4(p, w0, w1, w2, w3, 0));
      v128.store(q, tap4(p, w0, w1, w2, w3, 16), 16);
      v128.store(q, tap4(p, w0, w1, w2, w3, 32), 32);
      v128.store(q, tap4(p, w0, w1, w2, w3, 48), 48);
    } else if (order == 1) {
      const w0 = v128.load32_splat(t + 4), w1 = v128.load32_splat(t + 8);
      v128.store(q, tap2(p, w0, w1, 0));
      v128.store(q, tap2(p, w0, w1, 16), 16);
      v128.store(q, tap2(p, w0, w1, 32), 32);
      v128.store(q, tap2(p, w0, w1, 48), 48);
    } else {
      v128.store(q, v128.load(p));
      v128.store(q, v128.load(p, 16), 16);
      v128.store(q, v128.load(p, 32), 32);
      v128.store(q, v128.load(p, 48), 48);
    }
  }
}

/** Pads, prefilters (order 3) and interpolates sixteen lines whose n samples sit at line[pad ..]. */
// @ts-ignore: decorator
@inline
export function resampleLine16(line: usize, n: i32, pad: i32, out: usize, nOut: i32, order: i32, tab: usize): void {
  padLine(line, n, pad);
  if (order == 3) prefilterCubic(line, n + 2 * pad);
  interpolateLine(line, out, nOut, order, tab);
}
