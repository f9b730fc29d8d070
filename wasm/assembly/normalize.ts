// Intensity normalisation (nnU-Net ZScoreNormalization / CTNormalization): f64 statistics over all
// voxels or over a u8 mask, and one SIMD pass that clips, shifts and scales in f64 lanes, so the
// only rounding is the final f32 store. A mask pointer of 0 means "no mask" (the heap never hands
// out address 0: it starts above the static data).

/** Lane mask (all ones where mask byte != 0) for four consecutive u8 mask bytes. */
// @ts-ignore: decorator
@inline
function maskLanes(mask: usize, i: i32): v128 {
  const b = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(mask + <usize>i)));
  return i32x4.ne(b, i32x4.splat(0));
}

// @ts-ignore: decorator
@inline
function hiLanes(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
}

/**
 * Writes three f64 at `out`: voxel count, mean and population standard deviation (ddof 0) of the
 * `n` f32 at `data`, restricted to voxels whose u8 `mask` byte is non-zero when `mask` != 0.
 * Two passes (mean, then squared deviations) keep the variance accurate for large offsets.
 */
export function norm_stats_f32(out: usize, data: usize, n: i32, mask: usize): void {
  const n4 = n & ~3;
  let s0 = f64x2.splat(0);
  let s1 = f64x2.splat(0);
  let cnt = i32x4.splat(0);
  for (let i = 0; i < n4; i += 4) {
    let v = v128.load(data + (<usize>i << 2));
    if (mask) {
      const m = maskLanes(mask, i);
      v = v128.and(v, m);
      cnt = i32x4.sub(cnt, m);
    }
    s0 = f64x2.add(s0, f64x2.promote_low_f32x4(v));
    s1 = f64x2.add(s1, hiLanes(v));
  }
  let sum = f64x2.extract_lane(s0, 0) + f64x2.extract_lane(s0, 1) + f64x2.extract_lane(s1, 0) + f64x2.extract_lane(s1, 1);
  let count: f64 = mask
    ? <f64>(i32x4.extract_lane(cnt, 0) + i32x4.extract_lane(cnt, 1) + i32x4.extract_lane(cnt, 2) + i32x4.extract_lane(cnt, 3))
    : <f64>n4;
  for (let i = n4; i < n; i++) {
    if (mask && load<u8>(mask + <usize>i) == 0) continue;
    sum += <f64>load<f32>(data + (<usize>i << 2));
    count += 1;
  }
  const mean = count > 0 ? sum / count : 0;
  const mv = f64x2.splat(mean);
  let q0 = f64x2.splat(0);
  let q1 = f64x2.splat(0);
  for (let i = 0; i < n4; i += 4) {
    const v = v128.load(data + (<usize>i << 2));
    let d0 = f64x2.sub(f64x2.promote_low_f32x4(v), mv);
    let d1 = f64x2.sub(hiLanes(v), mv);
    if (mask) {
      const m = maskLanes(mask, i);
      d0 = v128.and(d0, i64x2.extend_low_i32x4_s(m));
      d1 = v128.and(d1, i64x2.extend_high_i32x4_s(m));
    }
    q0 = f64x2.add(q0, f64x2.mul(d0, d0));
    q1 = f64x2.add(q1, f64x2.mul(d1, d1));
  }
  let sq = f64x2.extract_lane(q0, 0) + f64x2.extract_lane(q0, 1) + f64x2.extract_lane(q1, 0) + f64x2.extract_lane(q1, 1);
  for (let i = n4; i < n; i++) {
    if (mask && load<u8>(mask + <usize>i) == 0) continue;
    const d = <f64>load<f32>(data + (<usize>i << 2)) - mean;
    sq += d * d;
  }
  store<f64>(out, count);
  store<f64>(out + 8, mean);
  store<f64>(out + 16, count > 0 ? Math.sqrt(sq / count) : 0);
}

/**
 * out[i] = f32((clip(data[i], lo, hi) - mean) * inv) for every voxel, or only where the u8 `mask`
 * byte is non-zero when `mask` != 0 (other voxels are copied unchanged). Clipping is in f32, as
 * numpy clips an f32 image; pass -inf/+inf to skip it. `out` may equal `data`.
 */
export function norm_apply_f32(out: usize, data: usize, n: i32, mask: usize, lo: f32, hi: f32, mean: f64, inv: f64): void {
  const n4 = n & ~3;
  const lov = f32x4.splat(lo);
  const hiv = f32x4.splat(hi);
  const mv = f64x2.splat(mean);
  const iv = f64x2.splat(inv);
  for (let i = 0; i < n4; i += 4) {
    const p = <usize>i << 2;
    const x = v128.load(data + p);
    const c = f32x4.min(f32x4.max(x, lov), hiv);
    const a = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(c), mv), iv));
    const b = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.sub(hiLanes(c), mv), iv));
    let y = v128.shuffle<f32>(a, b, 0, 1, 4, 5);
    if (mask) y = v128.bitselect(y, x, maskLanes(mask, i));
    v128.store(out + p, y);
  }
  for (let i = n4; i < n; i++) {
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
