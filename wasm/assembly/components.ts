// Connected components with full connectivity (26 in 3D, 8 in 2D), numbered like
// scipy.ndimage.label(mask, structure=np.ones((3,3,3))): in order of first appearance in a raster scan
// with x fastest.
//
// Runs of foreground along x are the nodes of a union-find. A run touches a run of one of the four
// earlier neighbouring rows ((y-1,z), (y-1,z-1), (y,z-1), (y+1,z-1)) when their x ranges overlap
// after widening by one voxel (the diagonal neighbours). Roots are always the smallest run index, so
// the root of a component is its first run in raster order and numbering roots in run order gives
// scipy's numbering. The run table is the output: the TypeScript wrapper expands it into the volume
// it returns, so no labelled volume is written here and copied out again.

/** Number of foreground runs along x in `rows` rows of `nx` voxels. */
export function cc_count_runs_u8(mask: usize, nx: i32, rows: i32): i32 {
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const m = mask + <usize>r * <usize>nx;
    let prev = false;
    for (let x = 0; x < nx; x++) {
      const on = load<u8>(m + <usize>x) != 0;
      if (on && !prev) count++;
      prev = on;
    }
  }
  return count;
}

/**
 * Labels the runs. Writes per run its start `x0` and end `x1` (exclusive), the first run of each row
 * in `rowStart` (`ny*nz + 1` i32) and the final component label of each run in `label`; voxel counts
 * per label go to `sizes` (i32, `runs + 1` long, zeroed by the caller; index 0 unused). Returns the
 * number of components.
 */
export function cc_label_runs_u8(
  mask: usize,
  nx: i32,
  ny: i32,
  nz: i32,
  x0s: usize,
  x1s: usize,
  rowStart: usize,
  label: usize,
  sizes: usize,
): i32 {
  const rows = ny * nz;
  let k = 0;
  for (let r = 0; r < rows; r++) {
    store<i32>(rowStart + (<usize>r << 2), k);
    const m = mask + <usize>r * <usize>nx;
    let x = 0;
    while (x < nx) {
      // Skip background 16 voxels at a time.
      while (x + 16 <= nx && !v128.any_true(v128.load(m + <usize>x))) x += 16;
      while (x < nx && load<u8>(m + <usize>x) == 0) x++;
      if (x >= nx) break;
      const start = x;
      while (x < nx && load<u8>(m + <usize>x) != 0) x++;
      store<i32>(x0s + (<usize>k << 2), start);
      store<i32>(x1s + (<usize>k << 2), x);
      store<i32>(label + (<usize>k << 2), k);
      k++;
    }
  }
  store<i32>(rowStart + (<usize>rows << 2), k);

  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const r = z * ny + y;
      if (y > 0) linkRows(r, r - 1, rowStart, x0s, x1s, label);
      if (z > 0) {
        const below = r - ny;
        if (y > 0) linkRows(r, below - 1, rowStart, x0s, x1s, label);
        linkRows(r, below, rowStart, x0s, x1s, label);
        if (y < ny - 1) linkRows(r, below + 1, rowStart, x0s, x1s, label);
      }
    }
  }

  // Parents point to smaller indices, so one ordered sweep turns every entry into its label: an
  // entry's parent has already been replaced by the label of its root.
  let count = 0;
  for (let i = 0; i < k; i++) {
    const p = label + (<usize>i << 2);
    const parent = load<i32>(p);
    let l: i32;
    if (parent == i) {
      count++;
      l = count;
    } else {
      l = load<i32>(label + (<usize>parent << 2));
    }
    store<i32>(p, l);
    const s = sizes + (<usize>l << 2);
    store<i32>(s, load<i32>(s) + load<i32>(x1s + (<usize>i << 2)) - load<i32>(x0s + (<usize>i << 2)));
  }
  return count;
}

function linkRows(a: i32, b: i32, rowStart: usize, x0s: usize, x1s: usize, label: usize): void {
  let i = load<i32>(rowStart + (<usize>a << 2));
  const iEnd = load<i32>(rowStart + (<usize>(a + 1) << 2));
  let j = load<i32>(rowStart + (<usize>b << 2));
  const jEnd = load<i32>(rowStart + (<usize>(b + 1) << 2));
  while (i < iEnd && j < jEnd) {
    const a0 = load<i32>(x0s + (<usize>i << 2));
    const a1 = load<i32>(x1s + (<usize>i << 2));
    const b0 = load<i32>(x0s + (<usize>j << 2));
    const b1 = load<i32>(x1s + (<usize>j << 2));
    // [a0, a1) and [b0, b1) touch (diagonals included) when b0 <= a1 and a0 <= b1.
    if (b0 <= a1 && a0 <= b1) union(i, j, label);
    if (a1 <= b1) i++;
    else j++;
  }
}

// @ts-ignore: decorator
@inline
function find(x: i32, parent: usize): i32 {
  let p = load<i32>(parent + (<usize>x << 2));
  while (p != x) {
    // Path halving keeps every parent below its child.
    const gp = load<i32>(parent + (<usize>p << 2));
    store<i32>(parent + (<usize>x << 2), gp);
    x = gp;
    p = load<i32>(parent + (<usize>x << 2));
  }
  return x;
}

// @ts-ignore: decorator
@inline
function union(a: i32, b: i32, parent: usize): void {
  const ra = find(a, parent);
  const rb = find(b, parent);
  if (ra < rb) store<i32>(parent + (<usize>rb << 2), ra);
  else if (rb < ra) store<i32>(parent + (<usize>ra << 2), rb);
}
