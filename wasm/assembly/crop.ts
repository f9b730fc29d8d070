// Crop to non-zero (nnU-Net `crop_to_nonzero`): the non-zero mask of all channels, its holes filled
// as `scipy.ndimage.binary_fill_holes` does (background not 6-connected to the volume's faces), and
// the bounding box of the result.

/** out[v] = 1 where any of `channels` f32 planes (each `n` long, contiguous) is non-zero, else 0. */
export function nonzero_mask_f32(out: usize, data: usize, n: i32, channels: i32): void {
  const zero = f32x4.splat(0);
  const one = i32x4.splat(1);
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    let any = i32x4.splat(0);
    for (let c = 0; c < channels; c++) {
      const v = v128.load(data + ((<usize>c * <usize>n + <usize>i) << 2));
      any = v128.or(any, f32x4.ne(v, zero));
    }
    const bits = v128.and(any, one);
    // Pack the four 0/1 lanes into four bytes.
    store<u32>(out + <usize>i, i32x4.extract_lane(i8x16.shuffle(bits, bits, 0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0));
  }
  for (let i = n4; i < n; i++) {
    let any: u8 = 0;
    for (let c = 0; c < channels; c++) {
      if (load<f32>(data + ((<usize>c * <usize>n + <usize>i) << 2)) != 0) any = 1;
    }
    store<u8>(out + <usize>i, any);
  }
}

/**
 * Fills the holes of a 0/1 mask in place. `queue` is scratch for `nx*ny*nz` i32.
 * Background voxels reachable from a face through 6-connected background stay 0; all others become 1.
 */
export function fill_holes_u8(mask: usize, nx: i32, ny: i32, nz: i32, queue: usize): void {
  const sy = nx;
  const sz = nx * ny;
  const n = sz * nz;
  let tail = 0;
  // Seed with every background voxel on a face, marking reached background as 2.
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const onFace = z == 0 || z == nz - 1 || y == 0 || y == ny - 1;
      const row = z * sz + y * sy;
      for (let x = 0; x < nx; x++) {
        if (!onFace && x != 0 && x != nx - 1) continue;
        const v = row + x;
        if (load<u8>(mask + <usize>v) == 0) {
          store<u8>(mask + <usize>v, 2);
          store<i32>(queue + (<usize>tail << 2), v);
          tail++;
        }
      }
    }
  }
  let head = 0;
  while (head < tail) {
    const v = load<i32>(queue + (<usize>head << 2));
    head++;
    const z = v / sz;
    const r = v - z * sz;
    const y = r / sy;
    const x = r - y * sy;
    if (x > 0) tail = visit(mask, queue, v - 1, tail);
    if (x < nx - 1) tail = visit(mask, queue, v + 1, tail);
    if (y > 0) tail = visit(mask, queue, v - sy, tail);
    if (y < ny - 1) tail = visit(mask, queue, v + sy, tail);
    if (z > 0) tail = visit(mask, queue, v - sz, tail);
    if (z < nz - 1) tail = visit(mask, queue, v + sz, tail);
  }
  for (let i = 0; i < n; i++) {
    const p = mask + <usize>i;
    store<u8>(p, load<u8>(p) == 2 ? 0 : 1);
  }
}

// @ts-ignore: decorator
@inline
function visit(mask: usize, queue: usize, v: i32, tail: i32): i32 {
  const p = mask + <usize>v;
  if (load<u8>(p) != 0) return tail;
  store<u8>(p, 2);
  store<i32>(queue + (<usize>tail << 2), v);
  return tail + 1;
}

/**
 * Half-open bounding box of the non-zero voxels of a u8 mask, written as six i32 at `out`:
 * x0, x1, y0, y1, z0, z1. An empty mask gives all zeros.
 */
export function bbox_u8(out: usize, mask: usize, nx: i32, ny: i32, nz: i32): void {
  let x0 = nx, x1 = -1, y0 = ny, y1 = -1, z0 = nz, z1 = -1;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const row = mask + <usize>(z * nx * ny + y * nx);
      let first = -1;
      let last = -1;
      let x = 0;
      // Skip empty 16-voxel blocks quickly.
      for (; x + 16 <= nx; x += 16) {
        if (v128.any_true(v128.load(row + <usize>x))) {
          for (let k = x; k < x + 16; k++) if (load<u8>(row + <usize>k) != 0) { if (first < 0) first = k; last = k; }
        }
      }
      for (; x < nx; x++) if (load<u8>(row + <usize>x) != 0) { if (first < 0) first = x; last = x; }
      if (first < 0) continue;
      if (first < x0) x0 = first;
      if (last > x1) x1 = last;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      if (z < z0) z0 = z;
      if (z > z1) z1 = z;
    }
  }
  if (x1 < 0) {
    x0 = x1 = y0 = y1 = z0 = z1 = 0;
  } else {
    x1++; y1++; z1++;
  }
  store<i32>(out, x0);
  store<i32>(out + 4, x1);
  store<i32>(out + 8, y0);
  store<i32>(out + 12, y1);
  store<i32>(out + 16, z0);
  store<i32>(out + 20, z1);
}
