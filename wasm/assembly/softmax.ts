// Softmax and argmax over the channel axis of a [C][N] stack of channel planes (nnU-Net's logits
// layout after sliding-window prediction). Four voxels per step; channels are walked with stride N.
import { exp_f32, exp_f32x4 } from './inline/exp-f32x4';

/**
 * out[c][i] = exp(x[c][i] - m[i]) / sum_c exp(x[c][i] - m[i]) with m[i] the per-voxel maximum, so
 * every exponent is <= 0 and nothing overflows. `out` and `logits` hold `channels * n` f32 and may
 * not overlap.
 */
export function softmax_ch_f32(out: usize, logits: usize, n: i32, channels: i32): void {
  const stride = <usize>n << 2;
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const off = <usize>i << 2;
    let m = v128.load(logits + off);
    for (let c = 1; c < channels; c++) m = f32x4.max(m, v128.load(logits + off + <usize>c * stride));
    let s = f32x4.splat(0);
    for (let c = 0; c < channels; c++) {
      const p = <usize>c * stride + off;
      const e = exp_f32x4(f32x4.sub(v128.load(logits + p), m));
      v128.store(out + p, e);
      s = f32x4.add(s, e);
    }
    for (let c = 0; c < channels; c++) {
      const p = out + <usize>c * stride + off;
      v128.store(p, f32x4.div(v128.load(p), s));
    }
  }
  for (let i = n4; i < n; i++) {
    const off = <usize>i << 2;
    let m = load<f32>(logits + off);
    for (let c = 1; c < channels; c++) m = max<f32>(m, load<f32>(logits + off + <usize>c * stride));
    let s: f32 = 0;
    for (let c = 0; c < channels; c++) {
      const p = <usize>c * stride + off;
      const e = exp_f32(load<f32>(logits + p) - m);
      store<f32>(out + p, e);
      s += e;
    }
    for (let c = 0; c < channels; c++) {
      const p = out + <usize>c * stride + off;
      store<f32>(p, load<f32>(p) / s);
    }
  }
}

/**
 * out[i] (u8) = the first channel holding the maximum of values[.][i], as numpy's argmax: a later
 * equal value never wins, and a NaN counts as the maximum (its first occurrence wins).
 */
export function argmax_ch_f32(out: usize, values: usize, n: i32, channels: i32): void {
  const stride = <usize>n << 2;
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const off = <usize>i << 2;
    let best = v128.load(values + off);
    let idx = i32x4.splat(0);
    for (let c = 1; c < channels; c++) {
      const v = v128.load(values + off + <usize>c * stride);
      // Strictly greater, or a first NaN over a non-NaN best.
      const take = v128.or(f32x4.gt(v, best), v128.and(f32x4.ne(v, v), f32x4.eq(best, best)));
      best = v128.bitselect(v, best, take);
      idx = v128.bitselect(i32x4.splat(c), idx, take);
    }
    store<u32>(out + <usize>i, i32x4.extract_lane(i8x16.shuffle(idx, idx, 0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0));
  }
  for (let i = n4; i < n; i++) {
    const off = <usize>i << 2;
    let best = load<f32>(values + off);
    let idx = 0;
    for (let c = 1; c < channels; c++) {
      const v = load<f32>(values + off + <usize>c * stride);
      if (v > best || (v != v && best == best)) {
        best = v;
        idx = c;
      }
    }
    store<u8>(out + <usize>i, <u8>idx);
  }
}
