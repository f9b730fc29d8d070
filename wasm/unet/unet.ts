// The plain U-Net's layers for the edge runtime (engine/runtime/unet-wasm.ts, docs/unet-wasm.md).
// Hand-written because onnxruntime-web's WASM build has one kernel set, 128-bit SIMD without
// fused multiply-add; with relaxed SIMD's madd these 3x3 convolutions run 1.7-2x its speed in the
// same process (docs/unet-wasm.md has the figures). Built twice (wasm/build.mjs): with relaxed SIMD for workerd
// and browsers that have it, and with plain SIMD (multiply, then add) for engines that do not.
//
// Feature maps are float32 planes, channel after channel, each with a one-voxel zero border
// ([C][H+2][W+2]): a 3x3 tap is then a plain offset from the output position, and the kernels write
// interiors only, so the borders stay zero for the life of the buffer. Widths are multiples of 4.

export { kernel_heap_base } from '../assembly/heap';

@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/**
 * 3x3 convolution with bias. Output `(o, y, x)` lives at `out + o*outCh + y*outRow + 4x`; its input
 * for channel `c` and tap `t` at `inp + c*inCh + y*inRow + 4x + taps[t]` (9 i32 byte offsets): the
 * padded map itself for stride 1, its phase planes (unet_phase_split) for stride 2. Weights are
 * blocked by 4 output channels: `[oc/4][ic][9][4]`. `oc` is a multiple of 4, `wd` of 4.
 *
 * The taps stay a loop over offsets read from memory: unrolled, binaryen hoists every tap's loads
 * ahead of the multiply-adds and V8 then spills the vectors (half the speed, measured). The four
 * output channels' weights are one load and four lane broadcasts, not four splat loads: 1.2x in
 * workerd, 0.93x in Node (docs/unet-wasm.md).
 */
export function unet_conv3x3(
  inp: usize, inCh: usize, inRow: usize, taps: usize, w: usize, bias: usize,
  out: usize, outCh: usize, outRow: usize, ic: i32, oc: i32, h: i32, wd: i32,
): void {
  for (let ob = 0; ob < oc; ob += 4) {
    const wb = w + <usize>ob * <usize>ic * 36;
    const bp = bias + (<usize>ob << 2);
    const z0 = v128.load32_splat(bp), z1 = v128.load32_splat(bp, 4);
    const z2 = v128.load32_splat(bp, 8), z3 = v128.load32_splat(bp, 12);
    const ocp = out + <usize>ob * outCh;
    // A 4-wide map (the deepest stage) takes two rows per block, so it keeps eight accumulators.
    let y = 0;
    if (wd == 4) {
      for (; y + 2 <= h; y += 2) {
        block8(inp + <usize>y * inRow, inRow, taps, wb, ic, inCh, ocp + <usize>y * outRow, outRow, outCh, z0, z1, z2, z3);
      }
    }
    for (; y < h; y++) {
      const ib = inp + <usize>y * inRow;
      const op = ocp + <usize>y * outRow;
      let x = 0;
      for (; x + 8 <= wd; x += 8) {
        block8(ib + (<usize>x << 2), 16, taps, wb, ic, inCh, op + (<usize>x << 2), 16, outCh, z0, z1, z2, z3);
      }
      for (; x < wd; x += 4) {
        let a0 = z0, a1 = z1, a2 = z2, a3 = z3;
        let ip = ib + (<usize>x << 2);
        let wq = wb;
        for (let c = 0; c < ic; c++) {
          for (let t: usize = 0; t < 36; t += 4) {
            const v0 = v128.load(ip + <usize>load<i32>(taps + t));
            const wv = v128.load(wq);
            a0 = madd(v0, v128.shuffle<f32>(wv, wv, 0, 0, 0, 0), a0);
            a1 = madd(v0, v128.shuffle<f32>(wv, wv, 1, 1, 1, 1), a1);
            a2 = madd(v0, v128.shuffle<f32>(wv, wv, 2, 2, 2, 2), a2);
            a3 = madd(v0, v128.shuffle<f32>(wv, wv, 3, 3, 3, 3), a3);
            wq += 16;
          }
          ip += inCh;
        }
        const p = op + (<usize>x << 2);
        v128.store(p, a0);
        v128.store(p + outCh, a1);
        v128.store(p + 2 * outCh, a2);
        v128.store(p + 3 * outCh, a3);
      }
    }
  }
}

/**
 * One block of unet_conv3x3: 4 output channels x two vectors of 4 pixels, the second vector `dv`
 * bytes after the first in the input and `ds` after it in the output (the next 4 pixels of the row,
 * or the same 4 of the next row).
 */
@inline function block8(
  ip: usize, dv: usize, taps: usize, wb: usize, ic: i32, inCh: usize,
  p: usize, ds: usize, outCh: usize, z0: v128, z1: v128, z2: v128, z3: v128,
): void {
  let a0 = z0, a1 = z1, a2 = z2, a3 = z3, b0 = z0, b1 = z1, b2 = z2, b3 = z3;
  let wq = wb;
  for (let c = 0; c < ic; c++) {
    for (let t: usize = 0; t < 36; t += 4) {
      const q = ip + <usize>load<i32>(taps + t);
      const v0 = v128.load(q), v1 = v128.load(q + dv);
      const wv = v128.load(wq);
      let s = v128.shuffle<f32>(wv, wv, 0, 0, 0, 0);
      a0 = madd(v0, s, a0); b0 = madd(v1, s, b0);
      s = v128.shuffle<f32>(wv, wv, 1, 1, 1, 1);
      a1 = madd(v0, s, a1); b1 = madd(v1, s, b1);
      s = v128.shuffle<f32>(wv, wv, 2, 2, 2, 2);
      a2 = madd(v0, s, a2); b2 = madd(v1, s, b2);
      s = v128.shuffle<f32>(wv, wv, 3, 3, 3, 3);
      a3 = madd(v0, s, a3); b3 = madd(v1, s, b3);
      wq += 16;
    }
    ip += inCh;
  }
  v128.store(p, a0); v128.store(p + ds, b0);
  v128.store(p + outCh, a1); v128.store(p + outCh + ds, b1);
  v128.store(p + 2 * outCh, a2); v128.store(p + 2 * outCh + ds, b2);
  v128.store(p + 3 * outCh, a3); v128.store(p + 3 * outCh + ds, b3);
}

/**
 * The four phase planes a stride-2 3x3 convolution reads: for each of `c` zero-bordered `h x w`
 * maps (`[h+2][w+2]`, `h` and `w` even), `plane[a][b][i][j] = src[2i+a][2j+b]`, each plane
 * `(h/2+1) x (w/2+1)`, the four planes of a channel one after another. A tap of the strided
 * convolution is then a plain offset into one plane.
 */
export function unet_phase_split(src: usize, c: i32, h: i32, w: i32, dst: usize): void {
  const sw = w + 2, ph = (h >> 1) + 1, pw = (w >> 1) + 1;
  const plane = <usize>(ph * pw) << 2;
  for (let ch = 0; ch < c; ch++) {
    const s = src + (<usize>(ch * (h + 2) * sw) << 2);
    const d = dst + <usize>ch * 4 * plane;
    for (let a = 0; a < 2; a++) {
      for (let b = 0; b < 2; b++) {
        const dp = d + <usize>(a * 2 + b) * plane;
        for (let i = 0; i < ph; i++) {
          const sr = s + (<usize>((2 * i + a) * sw + b) << 2);
          const dr = dp + (<usize>(i * pw) << 2);
          for (let j = 0; j < pw; j++) store<f32>(dr + (<usize>j << 2), load<f32>(sr + (<usize>j << 3)));
        }
      }
    }
  }
}

/**
 * Instance normalisation (population variance, `eps`), its affine scale and shift, then LeakyReLU
 * (`slope`), in place over the interiors of `c` zero-bordered maps. The sums run in float64 per row
 * so a 128x128 plane's mean keeps float32's precision.
 */
export function unet_norm_lrelu(
  buf: usize, chStride: usize, row: usize, c: i32, h: i32, w: i32,
  gamma: usize, beta: usize, eps: f32, slope: f32,
): void {
  const n = <f64>(h * w);
  for (let ch = 0; ch < c; ch++) {
    const base = buf + <usize>ch * chStride;
    let sum: f64 = 0;
    for (let y = 0; y < h; y++) {
      const r = base + <usize>y * row;
      let acc = f32x4.splat(0);
      for (let x = 0; x < w; x += 4) acc = f32x4.add(acc, v128.load(r + (<usize>x << 2)));
      sum += <f64>(f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) +
        <f64>(f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
    }
    const mean = <f32>(sum / n);
    const m = f32x4.splat(mean);
    let sq: f64 = 0;
    for (let y = 0; y < h; y++) {
      const r = base + <usize>y * row;
      let acc = f32x4.splat(0);
      for (let x = 0; x < w; x += 4) {
        const d = f32x4.sub(v128.load(r + (<usize>x << 2)), m);
        acc = madd(d, d, acc);
      }
      sq += <f64>(f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) +
        <f64>(f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
    }
    const scale = load<f32>(gamma + (<usize>ch << 2)) / <f32>Math.sqrt(sq / n + <f64>eps);
    const sv = f32x4.splat(scale);
    const bv = f32x4.splat(load<f32>(beta + (<usize>ch << 2)));
    const lv = f32x4.splat(slope);
    for (let y = 0; y < h; y++) {
      const r = base + <usize>y * row;
      for (let x = 0; x < w; x += 4) {
        const p = r + (<usize>x << 2);
        const v = madd(f32x4.sub(v128.load(p), m), sv, bv);
        v128.store(p, f32x4.max(v, f32x4.mul(v, lv)));
      }
    }
  }
}

/**
 * 2x2 transposed convolution, stride 2, with bias: `out[o][2y+ky][2x+kx] = bias[o] +
 * sum_c in[c][y][x] w[c][o][ky][kx]`. Weights blocked as `[oc/4][ky][ic][4 o][2 kx]`. Input and
 * output addressed as in unet_conv3x3 (no taps).
 */
export function unet_upconv2x2(
  inp: usize, inCh: usize, inRow: usize, w: usize, bias: usize,
  out: usize, outCh: usize, outRow: usize, ic: i32, oc: i32, h: i32, wd: i32,
): void {
  for (let ob = 0; ob < oc; ob += 4) {
    const bp = bias + (<usize>ob << 2);
    const z0 = v128.load32_splat(bp), z1 = v128.load32_splat(bp, 4);
    const z2 = v128.load32_splat(bp, 8), z3 = v128.load32_splat(bp, 12);
    for (let ky = 0; ky < 2; ky++) {
      const wk = w + <usize>((ob >> 2) * 2 + ky) * <usize>ic * 32;
      for (let y = 0; y < h; y++) {
        const ib = inp + <usize>y * inRow;
        const op = out + <usize>ob * outCh + <usize>(2 * y + ky) * outRow;
        for (let x = 0; x < wd; x += 4) {
          let a0 = z0, a1 = z1, a2 = z2, a3 = z3, b0 = z0, b1 = z1, b2 = z2, b3 = z3;
          let ip = ib + (<usize>x << 2);
          let wq = wk;
          for (let c = 0; c < ic; c++) {
            const v = v128.load(ip);
            const w0 = v128.load(wq), w1 = v128.load(wq, 16);
            a0 = madd(v, v128.shuffle<f32>(w0, w0, 0, 0, 0, 0), a0);
            b0 = madd(v, v128.shuffle<f32>(w0, w0, 1, 1, 1, 1), b0);
            a1 = madd(v, v128.shuffle<f32>(w0, w0, 2, 2, 2, 2), a1);
            b1 = madd(v, v128.shuffle<f32>(w0, w0, 3, 3, 3, 3), b1);
            a2 = madd(v, v128.shuffle<f32>(w1, w1, 0, 0, 0, 0), a2);
            b2 = madd(v, v128.shuffle<f32>(w1, w1, 1, 1, 1, 1), b2);
            a3 = madd(v, v128.shuffle<f32>(w1, w1, 2, 2, 2, 2), a3);
            b3 = madd(v, v128.shuffle<f32>(w1, w1, 3, 3, 3, 3), b3);
            wq += 32;
            ip += inCh;
          }
          const p = op + (<usize>x << 3);
          v128.store(p, v128.shuffle<f32>(a0, b0, 0, 4, 1, 5));
          v128.store(p, v128.shuffle<f32>(a0, b0, 2, 6, 3, 7), 16);
          v128.store(p + outCh, v128.shuffle<f32>(a1, b1, 0, 4, 1, 5));
          v128.store(p + outCh, v128.shuffle<f32>(a1, b1, 2, 6, 3, 7), 16);
          v128.store(p + 2 * outCh, v128.shuffle<f32>(a2, b2, 0, 4, 1, 5));
          v128.store(p + 2 * outCh, v128.shuffle<f32>(a2, b2, 2, 6, 3, 7), 16);
          v128.store(p + 3 * outCh, v128.shuffle<f32>(a3, b3, 0, 4, 1, 5));
          v128.store(p + 3 * outCh, v128.shuffle<f32>(a3, b3, 2, 6, 3, 7), 16);
        }
      }
    }
  }
}

/**
 * 1x1 convolution with bias (the heads), `w` as `[oc][ic]`, input addressed as in unet_conv3x3,
 * output dense: `out[o][y][x]` at `out + 4 * ((o*h + y)*wd + x)`.
 */
export function unet_conv1x1(
  inp: usize, inCh: usize, inRow: usize, w: usize, bias: usize, out: usize, ic: i32, oc: i32, h: i32, wd: i32,
): void {
  for (let o = 0; o < oc; o++) {
    const z = v128.load32_splat(bias + (<usize>o << 2));
    const wo = w + (<usize>(o * ic) << 2);
    for (let y = 0; y < h; y++) {
      const ib = inp + <usize>y * inRow;
      const op = out + (<usize>((o * h + y) * wd) << 2);
      for (let x = 0; x < wd; x += 4) {
        let a = z;
        let ip = ib + (<usize>x << 2);
        for (let c = 0; c < ic; c++) {
          a = madd(v128.load(ip), v128.load32_splat(wo + (<usize>c << 2)), a);
          ip += inCh;
        }
        v128.store(op + (<usize>x << 2), a);
      }
    }
  }
}

/**
 * 3x3 convolution, stride 1, with bias, by Winograd's F(2x2, 3x3) (Lavin and Gray, CVPR 2016):
 * each 2x2 output tile is `A^T [sum_c U_c . (B^T d_c B)] A`, `d_c` its 4x4 input patch in channel
 * `c` and `U_c = G g_c G^T` the transformed kernel, so 16 multiply-adds per input channel where
 * unet_conv3x3 does 36 (docs/unet-wasm.md, "Winograd"). Input and output addressed as in
 * unet_conv3x3 but `inp` is the padded map itself, not its interior. `u` holds `U`, blocked
 * `[16][oc/4][ic][4]` (engine/runtime/unet-wasm.ts winograd3x3). The map goes through `scratch`
 * `rows` tile rows (two output rows each) at a time: `2048 + 64 * (ic + oc) * T` bytes, `T = rows *
 * wd / 2` tiles. `wd` is a multiple of 8, `h` of `2 * rows`, `oc` of 4.
 */
export function unet_conv3x3_wino(
  inp: usize, inCh: usize, inRow: usize, u: usize, bias: usize,
  out: usize, outCh: usize, outRow: usize, ic: i32, oc: i32, h: i32, wd: i32,
  scratch: usize, rows: i32,
): void {
  const tw = wd >> 1;
  const tiles = rows * tw;
  // Each xi's plane a cache line longer than its data: at a power-of-two length the 16 planes'
  // vectors of one tile would share an L1 set.
  const vPlane = (<usize>(ic * tiles) << 2) + 64, mPlane = (<usize>(oc * tiles) << 2) + 64;
  const v = scratch;
  const m = v + 16 * vPlane;
  for (let ty = 0; ty < h >> 1; ty += rows) {
    winoInput(inp + <usize>(2 * ty) * inRow, inCh, inRow, ic, tw, rows, v, vPlane, tiles);
    winoProducts(v, vPlane, u, m, mPlane, ic, oc, tiles);
    winoOutput(m, bias, out + <usize>(2 * ty) * outRow, outCh, outRow, oc, tw, rows, mPlane, tiles);
  }
}

/**
 * `B^T d B` of every tile of the band in every channel, into `v[xi][c][t]` (xi = 4i + j), four
 * tiles to a vector. `B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]`.
 */
@inline function winoInput(
  inp: usize, inCh: usize, inRow: usize, ic: i32, tw: i32, rows: i32, v: usize, plane: usize, tiles: i32,
): void {
  for (let c = 0; c < ic; c++) {
    for (let r = 0; r < rows; r++) {
      let p = inp + <usize>c * inCh + <usize>(2 * r) * inRow;
      const q0 = v + (<usize>(c * tiles + r * tw) << 2);
      for (let tx = 0; tx < tw; tx += 4) {
        // Patch column j of four neighbouring tiles is input columns j, j+2, j+4, j+6 from p. B over
        // the columns of each patch row first (s_ij), then B^T over the rows, rows 1 and 2 first
        // so that fewer vectors are live at once. Written out row by row: as a loop through a
        // scratch row (or through v) the transform's extra loads and stores cost each call 1.6 %
        // in Node (A/B, 9 rounds), and workerd bounds-checks every one of them.
        const q = q0 + (<usize>tx << 2);
        const r1 = p + 1 * inRow;
        const a1 = v128.load(r1), b1 = v128.load(r1, 16), c1 = v128.load(r1, 8), d1 = v128.load(r1, 24);
        const e10 = v128.shuffle<f32>(a1, b1, 0, 2, 4, 6), e11 = v128.shuffle<f32>(a1, b1, 1, 3, 5, 7);
        const e12 = v128.shuffle<f32>(c1, d1, 0, 2, 4, 6), e13 = v128.shuffle<f32>(c1, d1, 1, 3, 5, 7);
        const s10 = f32x4.sub(e10, e12), s11 = f32x4.add(e11, e12);
        const s12 = f32x4.sub(e12, e11), s13 = f32x4.sub(e11, e13);
        const r2 = p + 2 * inRow;
        const a2 = v128.load(r2), b2 = v128.load(r2, 16), c2 = v128.load(r2, 8), d2 = v128.load(r2, 24);
        const e20 = v128.shuffle<f32>(a2, b2, 0, 2, 4, 6), e21 = v128.shuffle<f32>(a2, b2, 1, 3, 5, 7);
        const e22 = v128.shuffle<f32>(c2, d2, 0, 2, 4, 6), e23 = v128.shuffle<f32>(c2, d2, 1, 3, 5, 7);
        const s20 = f32x4.sub(e20, e22), s21 = f32x4.add(e21, e22);
        const s22 = f32x4.sub(e22, e21), s23 = f32x4.sub(e21, e23);
        v128.store(q + 4 * plane, f32x4.add(s10, s20));
        v128.store(q + 8 * plane, f32x4.sub(s20, s10));
        v128.store(q + 5 * plane, f32x4.add(s11, s21));
        v128.store(q + 9 * plane, f32x4.sub(s21, s11));
        v128.store(q + 6 * plane, f32x4.add(s12, s22));
        v128.store(q + 10 * plane, f32x4.sub(s22, s12));
        v128.store(q + 7 * plane, f32x4.add(s13, s23));
        v128.store(q + 11 * plane, f32x4.sub(s23, s13));
        const r0 = p + 0 * inRow;
        const a0 = v128.load(r0), b0 = v128.load(r0, 16), c0 = v128.load(r0, 8), d0 = v128.load(r0, 24);
        const e00 = v128.shuffle<f32>(a0, b0, 0, 2, 4, 6), e01 = v128.shuffle<f32>(a0, b0, 1, 3, 5, 7);
        const e02 = v128.shuffle<f32>(c0, d0, 0, 2, 4, 6), e03 = v128.shuffle<f32>(c0, d0, 1, 3, 5, 7);
        const s00 = f32x4.sub(e00, e02), s01 = f32x4.add(e01, e02);
        const s02 = f32x4.sub(e02, e01), s03 = f32x4.sub(e01, e03);
        v128.store(q + 0 * plane, f32x4.sub(s00, s20));
        v128.store(q + 1 * plane, f32x4.sub(s01, s21));
        v128.store(q + 2 * plane, f32x4.sub(s02, s22));
        v128.store(q + 3 * plane, f32x4.sub(s03, s23));
        const r3 = p + 3 * inRow;
        const a3 = v128.load(r3), b3 = v128.load(r3, 16), c3 = v128.load(r3, 8), d3 = v128.load(r3, 24);
        const e30 = v128.shuffle<f32>(a3, b3, 0, 2, 4, 6), e31 = v128.shuffle<f32>(a3, b3, 1, 3, 5, 7);
        const e32 = v128.shuffle<f32>(c3, d3, 0, 2, 4, 6), e33 = v128.shuffle<f32>(c3, d3, 1, 3, 5, 7);
        const s30 = f32x4.sub(e30, e32), s31 = f32x4.add(e31, e32);
        const s32 = f32x4.sub(e32, e31), s33 = f32x4.sub(e31, e33);
        v128.store(q + 12 * plane, f32x4.sub(s10, s30));
        v128.store(q + 13 * plane, f32x4.sub(s11, s31));
        v128.store(q + 14 * plane, f32x4.sub(s12, s32));
        v128.store(q + 15 * plane, f32x4.sub(s13, s33));
        p += 32;
      }
    }
  }
}

/**
 * The 16 products `m[xi][o][t] = sum_c u[xi][o][c] v[xi][c][t]`, each a matrix product blocked as
 * unet_conv3x3's: 4 output channels by 8 tiles (then 4, if a band ends on 4).
 */
@inline function winoProducts(
  v: usize, vPlane: usize, u: usize, m: usize, mPlane: usize, ic: i32, oc: i32, tiles: i32,
): void {
  const vrow = <usize>tiles << 2;
  for (let xi = 0; xi < 16; xi++) {
    const vx = v + <usize>xi * vPlane;
    const ux = u + (<usize>(xi * oc * ic) << 2);
    const mx = m + <usize>xi * mPlane;
    for (let ob = 0; ob < oc; ob += 4) {
      const wb = ux + (<usize>(ob * ic) << 2);
      const mo = mx + <usize>ob * vrow;
      let t = 0;
      for (; t + 8 <= tiles; t += 8) {
        const z = f32x4.splat(0);
        let a0 = z, a1 = z, a2 = z, a3 = z, b0 = z, b1 = z, b2 = z, b3 = z;
        let vp = vx + (<usize>t << 2);
        let wq = wb;
        for (let c = 0; c < ic; c++) {
          const v0 = v128.load(vp), v1 = v128.load(vp, 16);
          const wv = v128.load(wq);
          let s = v128.shuffle<f32>(wv, wv, 0, 0, 0, 0);
          a0 = madd(v0, s, a0); b0 = madd(v1, s, b0);
          s = v128.shuffle<f32>(wv, wv, 1, 1, 1, 1);
          a1 = madd(v0, s, a1); b1 = madd(v1, s, b1);
          s = v128.shuffle<f32>(wv, wv, 2, 2, 2, 2);
          a2 = madd(v0, s, a2); b2 = madd(v1, s, b2);
          s = v128.shuffle<f32>(wv, wv, 3, 3, 3, 3);
          a3 = madd(v0, s, a3); b3 = madd(v1, s, b3);
          vp += vrow;
          wq += 16;
        }
        const p = mo + (<usize>t << 2);
        v128.store(p, a0); v128.store(p, b0, 16);
        v128.store(p + vrow, a1); v128.store(p + vrow, b1, 16);
        v128.store(p + 2 * vrow, a2); v128.store(p + 2 * vrow, b2, 16);
        v128.store(p + 3 * vrow, a3); v128.store(p + 3 * vrow, b3, 16);
      }
      // A band of an odd number of 4-tile groups (4 mod 8 tiles to a row, an odd number of rows)
      // ends on one.
      if (t < tiles) {
        const z = f32x4.splat(0);
        let a0 = z, a1 = z, a2 = z, a3 = z;
        let vp = vx + (<usize>t << 2);
        let wq = wb;
        for (let c = 0; c < ic; c++) {
          const v0 = v128.load(vp);
          const wv = v128.load(wq);
          a0 = madd(v0, v128.shuffle<f32>(wv, wv, 0, 0, 0, 0), a0);
          a1 = madd(v0, v128.shuffle<f32>(wv, wv, 1, 1, 1, 1), a1);
          a2 = madd(v0, v128.shuffle<f32>(wv, wv, 2, 2, 2, 2), a2);
          a3 = madd(v0, v128.shuffle<f32>(wv, wv, 3, 3, 3, 3), a3);
          vp += vrow;
          wq += 16;
        }
        const p = mo + (<usize>t << 2);
        v128.store(p, a0);
        v128.store(p + vrow, a1);
        v128.store(p + 2 * vrow, a2);
        v128.store(p + 3 * vrow, a3);
      }
    }
  }
}

/**
 * `A^T m A` plus the bias for every tile and output channel, written as 2x2 output pixels.
 * `A^T = [1 1 1 0; 0 1 -1 -1]`.
 */
@inline function winoOutput(
  m: usize, bias: usize, out: usize, outCh: usize, outRow: usize, oc: i32, tw: i32, rows: i32,
  plane: usize, tiles: i32,
): void {
  for (let o = 0; o < oc; o++) {
    const z = v128.load32_splat(bias + (<usize>o << 2));
    for (let r = 0; r < rows; r++) {
      const mo = m + (<usize>(o * tiles + r * tw) << 2);
      let op = out + <usize>o * outCh + <usize>(2 * r) * outRow;
      for (let tx = 0; tx < tw; tx += 4) {
        const q = mo + (<usize>tx << 2);
        let y00 = z, y01 = z, y10 = z, y11 = z;
        for (let i: usize = 0; i < 4; i++) {
          const qi = q + 4 * i * plane;
          const m0 = v128.load(qi), m1 = v128.load(qi + plane);
          const m2 = v128.load(qi + 2 * plane), m3 = v128.load(qi + 3 * plane);
          const a = f32x4.add(f32x4.add(m0, m1), m2), b = f32x4.sub(f32x4.sub(m1, m2), m3);
          // Row i of m enters output row 0 for i < 3 and output row 1 as +, -, - for i = 1, 2, 3.
          if (i < 3) { y00 = f32x4.add(y00, a); y01 = f32x4.add(y01, b); }
          if (i == 1) { y10 = f32x4.add(y10, a); y11 = f32x4.add(y11, b); }
          if (i >= 2) { y10 = f32x4.sub(y10, a); y11 = f32x4.sub(y11, b); }
        }
        v128.store(op, v128.shuffle<f32>(y00, y01, 0, 4, 1, 5));
        v128.store(op, v128.shuffle<f32>(y00, y01, 2, 6, 3, 7), 16);
        v128.store(op + outRow, v128.shuffle<f32>(y10, y11, 0, 4, 1, 5));
        v128.store(op + outRow, v128.shuffle<f32>(y10, y11, 2, 6, 3, 7), 16);
        op += 32;
      }
    }
  }
}
