// Resampling with nnU-Net v2 semantics: skimage.transform.resize (scipy zoom, grid_mode, mode 'nearest')
// and scipy map_coordinates along one axis, run separably one axis per pass. A pass views the volume
// as (outer, n, inner) with `inner` contiguous and resamples every line along n. Tap tables and
// index tables come from the TypeScript wrapper (computed in f64 with scipy's formulas).
import { resampleLine16 } from './inline/resample-line';

/**
 * Resamples the (outer, nIn, inner) f32 volume at `src` along its middle axis into the
 * (outer, nOut, inner) volume at `dst`. `tab` holds nOut 20-byte tap records (see
 * inline/resample-line.ts), `pad` the edge padding the taps assume (12 for order 3, else 1).
 * `scratch` holds (nIn + 2*pad + nOut) * 64 bytes, 16-byte aligned.
 */
export function resample_axis_f32(
  src: usize, dst: usize, outer: i32, nIn: i32, inner: i32, nOut: i32,
  order: i32, pad: i32, tab: usize, scratch: usize,
): void {
  const line = scratch;
  const out = scratch + (<usize>(nIn + 2 * pad) << 6);
  if (inner == 1) {
    rowsPass(src, dst, outer, nIn, nOut, order, pad, tab, line, out);
    return;
  }
  const sIn = <usize>nIn * <usize>inner;
  const sOut = <usize>nOut * <usize>inner;
  const step = <usize>inner << 2;
  const lp = line + (<usize>pad << 6);
  for (let o = 0; o < outer; o++) {
    const srcO = src + ((<usize>o * sIn) << 2);
    const dstO = dst + ((<usize>o * sOut) << 2);
    if (inner >= 4) {
      // Sixteen adjacent lines per step (four vectors). Past the end, vectors shift back to end at
      // `inner`: overlapping lines are recomputed and rewritten with the same values.
      for (let i0 = 0; i0 < inner; i0 += 16) {
        const i = i0 + 16 <= inner ? i0 : max(inner - 16, 0);
        const o0 = <usize>i << 2;
        const o1 = <usize>min(i + 4, inner - 4) << 2;
        const o2 = <usize>min(i + 8, inner - 4) << 2;
        const o3 = <usize>min(i + 12, inner - 4) << 2;
        let p = srcO;
        for (let k = 0; k < nIn; k++) {
          const q = lp + (<usize>k << 6);
          v128.store(q, v128.load(p + o0));
          v128.store(q, v128.load(p + o1), 16);
          v128.store(q, v128.load(p + o2), 32);
          v128.store(q, v128.load(p + o3), 48);
          p += step;
        }
        resampleLine16(line, nIn, pad, out, nOut, order, tab);
        let q = dstO;
        for (let j = 0; j < nOut; j++) {
          const r = out + (<usize>j << 6);
          v128.store(q + o3, v128.load(r, 48));
          v128.store(q + o2, v128.load(r, 32));
          v128.store(q + o1, v128.load(r, 16));
          v128.store(q + o0, v128.load(r));
          q += step;
        }
      }
    } else {
      // inner of 2 or 3: lanes beyond the last line repeat it (all four vectors alike).
      const l1 = <usize>(1 < inner ? 1 : inner - 1) << 2;
      const l2 = <usize>(2 < inner ? 2 : inner - 1) << 2;
      for (let k = 0; k < nIn; k++) {
        const p = srcO + <usize>k * step;
        let v = f32x4.splat(load<f32>(p));
        v = f32x4.replace_lane(v, 1, load<f32>(p + l1));
        v = f32x4.replace_lane(v, 2, load<f32>(p + l2));
        v = f32x4.replace_lane(v, 3, load<f32>(p + l2));
        const q = lp + (<usize>k << 6);
        v128.store(q, v); v128.store(q, v, 16); v128.store(q, v, 32); v128.store(q, v, 48);
      }
      resampleLine16(line, nIn, pad, out, nOut, order, tab);
      for (let j = 0; j < nOut; j++) {
        const q = dstO + <usize>j * step;
        const v = v128.load(out + (<usize>j << 6));
        store<f32>(q, f32x4.extract_lane(v, 0));
        store<f32>(q + l1, f32x4.extract_lane(v, 1));
        store<f32>(q + l2, f32x4.extract_lane(v, 2));
      }
    }
  }
}

// Pass along contiguous rows: sixteen rows at a time (four quads), 4x4 transposes in and out of
// the lane layout. Rows past the end repeat the last row, or the group shifts back to end at `rows`.
function rowsPass(
  src: usize, dst: usize, rows: i32, nIn: i32, nOut: i32,
  order: i32, pad: i32, tab: usize, line: usize, out: usize,
): void {
  const nIn4 = nIn & ~3;
  const nOut4 = nOut & ~3;
  const last = rows - 1;
  const lp = line + (<usize>pad << 6);
  const bIn = <usize>nIn << 2;
  const bOut = <usize>nOut << 2;
  for (let r0 = 0; r0 < rows; r0 += 16) {
    const r = r0 + 16 <= rows ? r0 : max(rows - 16, 0);
    for (let g = 0; g < 4; g++) {
      const a = src + <usize>min(r + 4 * g, last) * bIn;
      const b = src + <usize>min(r + 4 * g + 1, last) * bIn;
      const c = src + <usize>min(r + 4 * g + 2, last) * bIn;
      const d = src + <usize>min(r + 4 * g + 3, last) * bIn;
      const base = lp + (<usize>g << 4);
      let k = 0;
      for (; k < nIn4; k += 4) {
        const off = <usize>k << 2;
        transposeStore(base + (<usize>k << 6), v128.load(a + off), v128.load(b + off), v128.load(c + off), v128.load(d + off));
      }
      for (; k < nIn; k++) {
        const off = <usize>k << 2;
        let v = f32x4.splat(load<f32>(a + off));
        v = f32x4.replace_lane(v, 1, load<f32>(b + off));
        v = f32x4.replace_lane(v, 2, load<f32>(c + off));
        v = f32x4.replace_lane(v, 3, load<f32>(d + off));
        v128.store(base + (<usize>k << 6), v);
      }
    }
    resampleLine16(line, nIn, pad, out, nOut, order, tab);
    for (let g = 0; g < 4; g++) {
      // Repeated rows receive identical values, so overlapping stores agree.
      const oa = dst + <usize>min(r + 4 * g, last) * bOut;
      const ob = dst + <usize>min(r + 4 * g + 1, last) * bOut;
      const oc = dst + <usize>min(r + 4 * g + 2, last) * bOut;
      const od = dst + <usize>min(r + 4 * g + 3, last) * bOut;
      const base = out + (<usize>g << 4);
      let j = 0;
      for (; j < nOut4; j += 4) {
        const q = base + (<usize>j << 6);
        const v0 = v128.load(q), v1 = v128.load(q, 64), v2 = v128.load(q, 128), v3 = v128.load(q, 192);
        const t0 = i32x4.shuffle(v0, v1, 0, 4, 1, 5);
        const t1 = i32x4.shuffle(v2, v3, 0, 4, 1, 5);
        const t2 = i32x4.shuffle(v0, v1, 2, 6, 3, 7);
        const t3 = i32x4.shuffle(v2, v3, 2, 6, 3, 7);
        const off = <usize>j << 2;
        v128.store(od + off, i32x4.shuffle(t2, t3, 2, 3, 6, 7));
        v128.store(oc + off, i32x4.shuffle(t2, t3, 0, 1, 4, 5));
        v128.store(ob + off, i32x4.shuffle(t0, t1, 2, 3, 6, 7));
        v128.store(oa + off, i32x4.shuffle(t0, t1, 0, 1, 4, 5));
      }
      for (; j < nOut; j++) {
        const v = v128.load(base + (<usize>j << 6));
        const off = <usize>j << 2;
        store<f32>(od + off, f32x4.extract_lane(v, 3));
        store<f32>(oc + off, f32x4.extract_lane(v, 2));
        store<f32>(ob + off, f32x4.extract_lane(v, 1));
        store<f32>(oa + off, f32x4.extract_lane(v, 0));
      }
    }
  }
}

// Stores the transpose of rows a..d (4 samples each) as four samples of one quad (64-byte stride).
// @ts-ignore: decorator
@inline
function transposeStore(p: usize, a: v128, b: v128, c: v128, d: v128): void {
  const t0 = i32x4.shuffle(a, b, 0, 4, 1, 5);
  const t1 = i32x4.shuffle(c, d, 0, 4, 1, 5);
  const t2 = i32x4.shuffle(a, b, 2, 6, 3, 7);
  const t3 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  v128.store(p, i32x4.shuffle(t0, t1, 0, 1, 4, 5));
  v128.store(p, i32x4.shuffle(t0, t1, 2, 3, 6, 7), 64);
  v128.store(p, i32x4.shuffle(t2, t3, 0, 1, 4, 5), 128);
  v128.store(p, i32x4.shuffle(t2, t3, 2, 3, 6, 7), 192);
}

/**
 * Nearest-neighbour 3D gather of 4-byte elements (f32 or i32): dst[x, y, z] = src[ix[x] + iy[y] + iz[z]]
 * where the i32 tables already hold element offsets (iy scaled by nx, iz by nx*ny).
 */
export function resample_gather_b32(
  src: usize, dst: usize, ix: usize, iy: usize, iz: usize, onx: i32, ony: i32, onz: i32,
): void {
  let q = dst;
  for (let z = 0; z < onz; z++) {
    const bz = load<i32>(iz + (<usize>z << 2));
    for (let y = 0; y < ony; y++) {
      const row = src + (<usize>(bz + load<i32>(iy + (<usize>y << 2))) << 2);
      for (let x = 0; x < onx; x++) {
        store<u32>(q, load<u32>(row + (<usize>load<i32>(ix + (<usize>x << 2)) << 2)));
        q += 4;
      }
    }
  }
}

/**
 * Per-slice min and max of the (outer, n, inner) f32 volume at `src`: slice k is every element with
 * middle index k. Writes n f32 minima at `lo` and n maxima at `hi`.
 */
export function resample_slice_minmax_f32(src: usize, outer: i32, n: i32, inner: i32, lo: usize, hi: usize): void {
  for (let k = 0; k < n; k++) {
    store<f32>(lo + (<usize>k << 2), Infinity);
    store<f32>(hi + (<usize>k << 2), -Infinity);
  }
  const inner4 = inner & ~3;
  let p = src;
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < n; k++) {
      let mn = load<f32>(lo + (<usize>k << 2));
      let mx = load<f32>(hi + (<usize>k << 2));
      let i = 0;
      if (inner4 > 0) {
        let vmn = f32x4.splat(mn), vmx = f32x4.splat(mx);
        for (; i < inner4; i += 4) {
          const v = v128.load(p + (<usize>i << 2));
          vmn = f32x4.pmin(vmn, v);
          vmx = f32x4.pmax(vmx, v);
        }
        mn = min(min(f32x4.extract_lane(vmn, 0), f32x4.extract_lane(vmn, 1)), min(f32x4.extract_lane(vmn, 2), f32x4.extract_lane(vmn, 3)));
        mx = max(max(f32x4.extract_lane(vmx, 0), f32x4.extract_lane(vmx, 1)), max(f32x4.extract_lane(vmx, 2), f32x4.extract_lane(vmx, 3)));
      }
      for (; i < inner; i++) {
        const v = load<f32>(p + (<usize>i << 2));
        mn = min(mn, v);
        mx = max(mx, v);
      }
      store<f32>(lo + (<usize>k << 2), mn);
      store<f32>(hi + (<usize>k << 2), mx);
      p += <usize>inner << 2;
    }
  }
}

/** Clips slice k of the (outer, n, inner) f32 volume at `buf` to [lo[k], hi[k]] in place. */
export function resample_slice_clip_f32(buf: usize, outer: i32, n: i32, inner: i32, lo: usize, hi: usize): void {
  const inner4 = inner & ~3;
  let p = buf;
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < n; k++) {
      const mn = load<f32>(lo + (<usize>k << 2));
      const mx = load<f32>(hi + (<usize>k << 2));
      const vmn = f32x4.splat(mn), vmx = f32x4.splat(mx);
      let i = 0;
      for (; i < inner4; i += 4) {
        const q = p + (<usize>i << 2);
        v128.store(q, f32x4.pmin(f32x4.pmax(v128.load(q), vmn), vmx));
      }
      for (; i < inner; i++) {
        const q = p + (<usize>i << 2);
        store<f32>(q, min(max(load<f32>(q), mn), mx));
      }
      p += <usize>inner << 2;
    }
  }
}

/** dst[i] = 1 where labels[i] == value, else 0 (i32 labels to an f32 one-hot mask). */
export function resample_onehot_i32(dst: usize, labels: usize, n: i32, value: i32): void {
  const n4 = n & ~3;
  const vv = i32x4.splat(value);
  const one = f32x4.splat(1);
  let i = 0;
  for (; i < n4; i += 4) {
    const off = <usize>i << 2;
    v128.store(dst + off, v128.and(i32x4.eq(v128.load(labels + off), vv), one));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(dst + off, load<i32>(labels + off) == value ? 1 : 0);
  }
}

/**
 * out[i] = value where prob[i] >= thr (or > thr when `strict`), else unchanged: the arg-max-free
 * painting of nnU-Net's resize_segmentation (>= 0.5) and separate-z path (round(p) > 0.5, i.e. p > 0.5).
 */
export function resample_paint_i32(out: usize, prob: usize, n: i32, value: i32, thr: f32, strict: i32): void {
  const n4 = n & ~3;
  const vv = i32x4.splat(value);
  const vt = f32x4.splat(thr);
  let i = 0;
  for (; i < n4; i += 4) {
    const off = <usize>i << 2;
    const p = v128.load(prob + off);
    const m = strict ? f32x4.gt(p, vt) : f32x4.ge(p, vt);
    v128.store(out + off, v128.bitselect(vv, v128.load(out + off), m));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    const p = load<f32>(prob + off);
    if (strict ? p > thr : p >= thr) store<i32>(out + off, value);
  }
}
