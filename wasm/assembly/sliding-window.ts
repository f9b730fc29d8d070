// Sliding-window aggregation (nnU-Net `_internal_predict_sliding_window_return_logits`): Gaussian
// importance map, weighted accumulation of patch logits, final division. Rows are contiguous in
// both the patch and the volume, so each row is one SIMD sweep.

/**
 * out[z][y][x] = f32(gx[x] * gy[y] * gz[z]) for f64 per-axis weights: the separable Gaussian
 * filter of a centred delta, which is what scipy's gaussian_filter makes of nnU-Net's input.
 */
export function sw_gaussian_outer_f32(out: usize, gx: usize, gy: usize, gz: usize, nx: i32, ny: i32, nz: i32): void {
  let o = out;
  for (let z = 0; z < nz; z++) {
    const wz = load<f64>(gz + (<usize>z << 3));
    for (let y = 0; y < ny; y++) {
      const wyz = wz * load<f64>(gy + (<usize>y << 3));
      for (let x = 0; x < nx; x++) {
        store<f32>(o, <f32>(wyz * load<f64>(gx + (<usize>x << 3))));
        o += 4;
      }
    }
  }
}

/**
 * acc[c][v] += logits[c][p] * g[p] and weights[v] += g[p] for every voxel p of a `[pz][py][px]`
 * patch placed at (ox, oy, oz) in the `[nz][ny][nx]` volume v (`channels` planes of each). The
 * accumulator and the map stay in kernel memory across tiles, so only the patch's logits cross per
 * call.
 */
export function sw_accumulate_window_f32(
  acc: usize,
  weights: usize,
  logits: usize,
  g: usize,
  nx: i32,
  ny: i32,
  nz: i32,
  px: i32,
  py: i32,
  pz: i32,
  ox: i32,
  oy: i32,
  oz: i32,
  channels: i32,
): void {
  const volStride = (<usize>nx * <usize>ny * <usize>nz) << 2;
  const patStride = (<usize>px * <usize>py * <usize>pz) << 2;
  const px4 = px & ~3;
  for (let z = 0; z < pz; z++) {
    for (let y = 0; y < py; y++) {
      const vrow = ((<usize>(oz + z) * <usize>ny + <usize>(oy + y)) * <usize>nx + <usize>ox) << 2;
      const prow = ((<usize>z * <usize>py + <usize>y) * <usize>px) << 2;
      for (let x = 0; x < px4; x += 4) {
        const vp = vrow + (<usize>x << 2);
        const pp = prow + (<usize>x << 2);
        const gv = v128.load(g + pp);
        v128.store(weights + vp, f32x4.add(v128.load(weights + vp), gv));
        for (let c = 0; c < channels; c++) {
          const a = acc + <usize>c * volStride + vp;
          v128.store(a, f32x4.add(v128.load(a), f32x4.mul(v128.load(logits + <usize>c * patStride + pp), gv)));
        }
      }
      for (let x = px4; x < px; x++) {
        const vp = vrow + (<usize>x << 2);
        const pp = prow + (<usize>x << 2);
        const gs = load<f32>(g + pp);
        store<f32>(weights + vp, load<f32>(weights + vp) + gs);
        for (let c = 0; c < channels; c++) {
          const a = acc + <usize>c * volStride + vp;
          store<f32>(a, load<f32>(a) + load<f32>(logits + <usize>c * patStride + pp) * gs);
        }
      }
    }
  }
}

/**
 * acc[c][i] /= weights[i] in place; returns how many voxels have weight 0 (no patch covered them).
 */
export function sw_divide_f32(acc: usize, weights: usize, n: i32, channels: i32): i32 {
  const n4 = n & ~3;
  const stride = <usize>n << 2;
  let zeros = i32x4.splat(0);
  for (let i = 0; i < n4; i += 4) {
    const p = <usize>i << 2;
    const w = v128.load(weights + p);
    zeros = i32x4.sub(zeros, f32x4.eq(w, f32x4.splat(0)));
    for (let c = 0; c < channels; c++) {
      const q = acc + <usize>c * stride + p;
      v128.store(q, f32x4.div(v128.load(q), w));
    }
  }
  let uncovered = i32x4.extract_lane(zeros, 0) + i32x4.extract_lane(zeros, 1) + i32x4.extract_lane(zeros, 2) + i32x4.extract_lane(zeros, 3);
  for (let i = n4; i < n; i++) {
    const p = <usize>i << 2;
    const w = load<f32>(weights + p);
    if (w == 0) uncovered++;
    for (let c = 0; c < channels; c++) {
      const q = acc + <usize>c * stride + p;
      store<f32>(q, load<f32>(q) / w);
    }
  }
  return uncovered;
}
