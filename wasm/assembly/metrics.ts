// Building blocks of the overlap and surface-distance metrics: voxel counts, the surface
// (mask minus its binary erosion by a full 3x3x3 box, voxels outside the volume counting as
// background, as scipy.ndimage.binary_erosion with border_value=0), the bounding box of two
// surfaces, and gathering distances at surface voxels.
//
// Erosion by a box is separable: AND of three neighbours along x, then y, then z. Intermediate
// masks hold 0x00 / 0xFF bytes so SIMD ANDs need no normalisation.

/** Writes three i32 to `out`: non-zero voxels of `a`, of `b`, and of both. */
export function metrics_counts_u8(out: usize, a: usize, b: usize, n: i32): void {
  let ca = 0;
  let cb = 0;
  let both = 0;
  for (let i = 0; i < n; i++) {
    const x = load<u8>(a + <usize>i) != 0;
    const y = load<u8>(b + <usize>i) != 0;
    ca += <i32>x;
    cb += <i32>y;
    both += <i32>(x && y);
  }
  store<i32>(out, ca);
  store<i32>(out + 4, cb);
  store<i32>(out + 8, both);
}

/**
 * Surface of `mask` into `surf` (0/1); `tmp` is n bytes of scratch. With `twoD` (a `[w, h, 1]`
 * image) the structure is the 3x3 square, so the missing z neighbours do not make every voxel
 * surface. Returns the number of surface voxels.
 */
export function metrics_surface_u8(surf: usize, mask: usize, tmp: usize, nx: i32, ny: i32, nz: i32, twoD: i32): i32 {
  const rows = ny * nz;
  const n = rows * nx;
  // x: tmp = m[x-1] & m[x] & m[x+1], zero on the first and last column.
  const zero = i8x16.splat(0);
  for (let r = 0; r < rows; r++) {
    const m = mask + <usize>r * <usize>nx;
    const t = tmp + <usize>r * <usize>nx;
    store<u8>(t, 0);
    let x = 1;
    for (; x + 17 <= nx; x += 16) {
      const l = i8x16.ne(v128.load(m + <usize>(x - 1)), zero);
      const c = i8x16.ne(v128.load(m + <usize>x), zero);
      const h = i8x16.ne(v128.load(m + <usize>(x + 1)), zero);
      v128.store(t + <usize>x, v128.and(v128.and(l, c), h));
    }
    for (; x < nx - 1; x++) {
      const on = load<u8>(m + <usize>(x - 1)) != 0 && load<u8>(m + <usize>x) != 0 && load<u8>(m + <usize>(x + 1)) != 0;
      store<u8>(t + <usize>x, on ? 0xff : 0);
    }
    store<u8>(t + <usize>(nx - 1), 0);
  }
  // y: surf = tmp rows y-1, y, y+1.
  and3(surf, tmp, nx, ny, nz);
  let eroded = surf;
  if (twoD == 0) {
    // z: tmp = surf planes z-1, z, z+1.
    and3(tmp, surf, nx * ny, nz, 1);
    eroded = tmp;
  }
  let count = 0;
  for (let i = 0; i < n; i++) {
    const s: u8 = load<u8>(mask + <usize>i) != 0 && load<u8>(eroded + <usize>i) == 0 ? 1 : 0;
    store<u8>(surf + <usize>i, s);
    count += s;
  }
  return count;
}

/** dst block b of each group = src blocks b-1 & b & b+1; the first and last block of a group are 0. */
function and3(dst: usize, src: usize, len: i32, blocks: i32, groups: i32): void {
  for (let g = 0; g < groups; g++) {
    const base = <usize>g * <usize>blocks * <usize>len;
    for (let b = 0; b < blocks; b++) {
      const d = dst + base + <usize>b * <usize>len;
      if (b == 0 || b == blocks - 1) {
        memory.fill(d, 0, <usize>len);
        continue;
      }
      const lo = src + base + <usize>(b - 1) * <usize>len;
      const mid = lo + <usize>len;
      const hi = mid + <usize>len;
      let i = 0;
      for (; i + 16 <= len; i += 16) {
        const o = <usize>i;
        v128.store(d + o, v128.and(v128.and(v128.load(lo + o), v128.load(mid + o)), v128.load(hi + o)));
      }
      for (; i < len; i++) {
        const o = <usize>i;
        store<u8>(d + o, load<u8>(lo + o) & load<u8>(mid + o) & load<u8>(hi + o));
      }
    }
  }
}

/** Half-open box of the voxels non-zero in `a` or `b`: six i32 x0, x1, y0, y1, z0, z1 (all 0 if none). */
export function metrics_bbox2_u8(out: usize, a: usize, b: usize, nx: i32, ny: i32, nz: i32): void {
  let x0 = nx, x1 = -1, y0 = ny, y1 = -1, z0 = nz, z1 = -1;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const off = <usize>(z * ny + y) * <usize>nx;
      for (let x = 0; x < nx; x++) {
        if ((load<u8>(a + off + <usize>x) | load<u8>(b + off + <usize>x)) == 0) continue;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
        if (z < z0) z0 = z;
        if (z > z1) z1 = z;
      }
    }
  }
  if (x1 < 0) {
    x0 = x1 = y0 = y1 = z0 = z1 = 0;
  } else {
    x1++;
    y1++;
    z1++;
  }
  store<i32>(out, x0);
  store<i32>(out + 4, x1);
  store<i32>(out + 8, y0);
  store<i32>(out + 12, y1);
  store<i32>(out + 16, z0);
  store<i32>(out + 20, z1);
}

/** Appends `dist[i]` for every non-zero `surf[i]` to `pool`; returns how many were written. */
export function metrics_gather_f32(pool: usize, dist: usize, surf: usize, n: i32): i32 {
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (load<u8>(surf + <usize>i) == 0) continue;
    store<f32>(pool + (<usize>k << 2), load<f32>(dist + (<usize>i << 2)));
    k++;
  }
  return k;
}
