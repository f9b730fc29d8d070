// Sliding-window aggregation (nnU-Net `_internal_predict_sliding_window_return_logits`): Gaussian
// importance map, weighted accumulation of patch logits, final division. The wrapper hands the
// kernels compact window buffers, so every loop here is flat and contiguous.

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
 * acc[c][i] += logits[c][i] * g[i] for `channels` planes of `n` f32, and weights[i] += g[i].
 */
export function sw_accumulate_f32(acc: usize, weights: usize, logits: usize, g: usize, n: i32, channels: i32): void {
  const n4 = n & ~3;
  const stride = <usize>n << 2;
  for (let i = 0; i < n4; i += 4) {
    const p = <usize>i << 2;
    const gv = v128.load(g + p);
    v128.store(weights + p, f32x4.add(v128.load(weights + p), gv));
    for (let c = 0; c < channels; c++) {
      const q = <usize>c * stride + p;
      v128.store(acc + q, f32x4.add(v128.load(acc + q), f32x4.mul(v128.load(logits + q), gv)));
    }
  }
  for (let i = n4; i < n; i++) {
    const p = <usize>i << 2;
    const gs = load<f32>(g + p);
    store<f32>(weights + p, load<f32>(weights + p) + gs);
    for (let c = 0; c < channels; c++) {
      const q = <usize>c * stride + p;
      store<f32>(acc + q, load<f32>(acc + q) + load<f32>(logits + q) * gs);
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
