// Intensity normalisation (nnU-Net ZScoreNormalization / CTNormalization): f64 statistics over all
// voxels or over a u8 mask, and one SIMD pass that clips, shifts and scales in f64 lanes, so the
// only rounding is the final f32 store. A mask pointer of 0 means "no mask" (the heap never hands
// out address 0: it starts above the static data).

// Voxels go in blocks of 16, one v128 of mask bytes: a block without mask voxels is skipped (the
// brain's non-zero mask is 9 % of a 256^3 head volume, in long runs), and a block's 16 values feed
// four f64 accumulators, so the adds do not wait on one another. The masked and unmasked loops are
// the same inline code with `masked` a constant, so the unmasked one carries no mask work.

/** Lane masks (all ones where the mask byte != 0) of group `g` (0..3) of four voxels of a block. */
// @ts-ignore: decorator
@inline
function blockLanes(mb: v128, g: i32): v128 {
  const m8 = i8x16.ne(mb, i8x16.splat(0));
  const h = g < 2 ? i16x8.extend_low_i8x16_s(m8) : i16x8.extend_high_i8x16_s(m8);
  return (g & 1) == 0 ? i32x4.extend_low_i16x8_s(h) : i32x4.extend_high_i16x8_s(h);
}

// @ts-ignore: decorator
@inline
function hiLanes(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
}

/** One pass's term of two f64 lanes: `x`, or `(x - mean)^2` when `square`; 0 outside the mask. */
// @ts-ignore: decorator
@inline
function term(x: v128, lanes: v128, masked: bool, square: bool, mean: v128): v128 {
  let d = square ? f64x2.sub(x, mean) : x;
  if (masked) d = v128.and(d, lanes);
  return square ? f64x2.mul(d, d) : d;
}

/** Mask voxels counted by the last masked {@link blockPass} that did not square. */
let passCount: f64 = 0;

/**
 * Sum over the first `n16` voxels (a multiple of 16) of `x`, or of `(x - mean)^2` when `square`,
 * over mask voxels only when `masked`.
 */
// @ts-ignore: decorator
@inline
function blockPass(data: usize, n16: i32, mask: usize, masked: bool, square: bool, mean: f64): f64 {
  const all = i8x16.splat(-1);
  const mv = f64x2.splat(mean);
  let a0 = f64x2.splat(0);
  let a1 = f64x2.splat(0);
  let a2 = f64x2.splat(0);
  let a3 = f64x2.splat(0);
  let count: f64 = 0;
  for (let i = 0; i < n16; i += 16) {
    let mb = all;
    if (masked) {
      mb = v128.load(mask + <usize>i);
      if (!v128.any_true(mb)) continue;
      if (!square) count += <f64>popcnt<i32>(i8x16.bitmask(i8x16.ne(mb, i8x16.splat(0))));
    }
    const p = data + (<usize>i << 2);
    const v0 = v128.load(p);
    const v1 = v128.load(p + 16);
    const v2 = v128.load(p + 32);
    const v3 = v128.load(p + 48);
    const m0 = blockLanes(mb, 0);
    const m1 = blockLanes(mb, 1);
    const m2 = blockLanes(mb, 2);
    const m3 = blockLanes(mb, 3);
    a0 = f64x2.add(a0, term(f64x2.promote_low_f32x4(v0), i64x2.extend_low_i32x4_s(m0), masked, square, mv));
    a1 = f64x2.add(a1, term(hiLanes(v0), i64x2.extend_high_i32x4_s(m0), masked, square, mv));
    a2 = f64x2.add(a2, term(f64x2.promote_low_f32x4(v1), i64x2.extend_low_i32x4_s(m1), masked, square, mv));
    a3 = f64x2.add(a3, term(hiLanes(v1), i64x2.extend_high_i32x4_s(m1), masked, square, mv));
    a0 = f64x2.add(a0, term(f64x2.promote_low_f32x4(v2), i64x2.extend_low_i32x4_s(m2), masked, square, mv));
    a1 = f64x2.add(a1, term(hiLanes(v2), i64x2.extend_high_i32x4_s(m2), masked, square, mv));
    a2 = f64x2.add(a2, term(f64x2.promote_low_f32x4(v3), i64x2.extend_low_i32x4_s(m3), masked, square, mv));
    a3 = f64x2.add(a3, term(hiLanes(v3), i64x2.extend_high_i32x4_s(m3), masked, square, mv));
  }
  if (masked && !square) passCount = count;
  const s = f64x2.add(f64x2.add(a0, a1), f64x2.add(a2, a3));
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}

/**
 * Writes three f64 at `out`: voxel count, mean and population standard deviation (ddof 0) of the
 * `n` f32 at `data`, restricted to voxels whose u8 `mask` byte is non-zero when `mask` != 0.
 * Two passes (mean, then squared deviations) keep the variance accurate for large offsets.
 */
export function norm_stats_f32(out: usize, data: usize, n: i32, mask: usize): void {
  const n16 = n & ~15;
  let sum: f64 = 0;
  let count: f64 = n16;
  if (mask) {
    sum = blockPass(data, n16, mask, true, false, 0);
    count = passCount;
  } else {
    sum = blockPass(data, n16, 0, false, false, 0);
  }
  for (let i = n16; i < n; i++) {
    if (mask && load<u8>(mask + <usize>i) == 0) continue;
    sum += <f64>load<f32>(data + (<usize>i << 2));
    count += 1;
  }
  const mean = count > 0 ? sum / count : 0;
  let sq = mask ? blockPass(data, n16, mask, true, true, mean) : blockPass(data, n16, 0, false, true, mean);
  for (let i = n16; i < n; i++) {
    if (mask && load<u8>(mask + <usize>i) == 0) continue;
    const d = <f64>load<f32>(data + (<usize>i << 2)) - mean;
    sq += d * d;
  }
  store<f64>(out, count);
  store<f64>(out + 8, mean);
  store<f64>(out + 16, count > 0 ? Math.sqrt(sq / count) : 0);
}

/** Four voxels `x` clipped, shifted and scaled, rounded to f32 only at the end. */
// @ts-ignore: decorator
@inline
function applied(x: v128, lov: v128, hiv: v128, mv: v128, iv: v128): v128 {
  const c = f32x4.min(f32x4.max(x, lov), hiv);
  const a = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(c), mv), iv));
  const b = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.sub(hiLanes(c), mv), iv));
  return v128.shuffle<f32>(a, b, 0, 1, 4, 5);
}

/**
 * out[i] = f32((clip(data[i], lo, hi) - mean) * inv) for every voxel, or only where the u8 `mask`
 * byte is non-zero when `mask` != 0 (other voxels are copied unchanged). Clipping is in f32, as
 * numpy clips an f32 image; pass -inf/+inf to skip it. `out` may equal `data`.
 */
export function norm_apply_f32(out: usize, data: usize, n: i32, mask: usize, lo: f32, hi: f32, mean: f64, inv: f64): void {
  const n16 = n & ~15;
  const lov = f32x4.splat(lo);
  const hiv = f32x4.splat(hi);
  const mv = f64x2.splat(mean);
  const iv = f64x2.splat(inv);
  if (mask) {
    for (let i = 0; i < n16; i += 16) {
      const mb = v128.load(mask + <usize>i);
      const p = <usize>i << 2;
      if (!v128.any_true(mb)) {
        if (out != data) memory.copy(out + p, data + p, 64);
        continue;
      }
      for (let g = 0; g < 4; g++) {
        const q = p + (<usize>g << 4);
        const x = v128.load(data + q);
        v128.store(out + q, v128.bitselect(applied(x, lov, hiv, mv, iv), x, blockLanes(mb, g)));
      }
    }
  } else {
    for (let i = 0; i < n16; i += 4) {
      const q = <usize>i << 2;
      v128.store(out + q, applied(v128.load(data + q), lov, hiv, mv, iv));
    }
  }
  for (let i = n16; i < n; i++) {
    const p = <usize>i << 2;
    const x = load<f32>(data + p);
    if (mask && load<u8>(mask + <usize>i) == 0) {
      store<f32>(out + p, x);
      continue;
    }
    const c = min<f32>(max<f32>(x, lo), hi);
    store<f32>(out + p, <f32>((<f64>c - mean) * inv));
  }
}
