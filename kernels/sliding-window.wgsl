// Sliding-window aggregation (nnU-Net `_internal_predict_sliding_window_return_logits`): patch
// logits weighted by the Gaussian importance map, accumulated over the volume with the weights,
// then divided. Volumes are [ni, nj, nk] with i fastest; logits are [C][volume], patches
// [tiles][C][patch]. One invocation per volume voxel of the batch's bounding box walks the batch's
// tiles in order, so every voxel sums its patches in the same order as the WASM kernel, and
// overlapping tiles of one batch need no atomics.

struct Params {
  // Volume and patch sizes, fastest axis first.
  nx: u32,
  ny: u32,
  nz: u32,
  px: u32,
  py: u32,
  pz: u32,
  channels: u32,
  tiles: u32,
  // The box the batch's tiles cover: origin and size.
  bx: u32,
  by: u32,
  bz: u32,
  sx: u32,
  sy: u32,
  sz: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gaussian: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
// Three u32 per tile: the window's start on each axis.
@group(0) @binding(3) var<storage, read> offsets: array<u32>;
@group(0) @binding(4) var<storage, read_write> acc: array<f32>;
@group(0) @binding(5) var<storage, read_write> weights: array<f32>;
@group(0) @binding(6) var<storage, read_write> uncovered: array<atomic<u32>>;

fn thread_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.y * nwg.x * 64u + gid.x;
}

// Index of voxel (x, y, z) in tile t, or 0xffffffff when the tile does not cover it.
fn patch_index(t: u32, x: u32, y: u32, z: u32) -> u32 {
  let ox = offsets[3u * t];
  let oy = offsets[3u * t + 1u];
  let oz = offsets[3u * t + 2u];
  if (x < ox || y < oy || z < oz || x >= ox + p.px || y >= oy + p.py || z >= oz + p.pz) {
    return 0xffffffffu;
  }
  return ((z - oz) * p.py + (y - oy)) * p.px + (x - ox);
}

// acc[c][v] += logits[t][c][i] * g[i] and weights[v] += g[i] for every tile t covering v.
@compute @workgroup_size(64)
fn sw_accumulate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = thread_index(gid, nwg);
  if (i >= p.sx * p.sy * p.sz) {
    return;
  }
  let x = p.bx + i % p.sx;
  let y = p.by + (i / p.sx) % p.sy;
  let z = p.bz + i / (p.sx * p.sy);
  let vn = p.nx * p.ny * p.nz;
  let v = (z * p.ny + y) * p.nx + x;
  let pn = p.px * p.py * p.pz;
  var w = weights[v];
  for (var t = 0u; t < p.tiles; t++) {
    let pi = patch_index(t, x, y, z);
    if (pi != 0xffffffffu) {
      w = w + gaussian[pi];
    }
  }
  weights[v] = w;
  for (var c = 0u; c < p.channels; c++) {
    var a = acc[c * vn + v];
    for (var t = 0u; t < p.tiles; t++) {
      let pi = patch_index(t, x, y, z);
      if (pi != 0xffffffffu) {
        a = a + logits[(t * p.channels + c) * pn + pi] * gaussian[pi];
      }
    }
    acc[c * vn + v] = a;
  }
}

// acc[c][v] /= weights[v] in place; counts the voxels no patch covered (weight 0).
@compute @workgroup_size(64)
fn sw_divide(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let v = thread_index(gid, nwg);
  let vn = p.nx * p.ny * p.nz;
  if (v >= vn) {
    return;
  }
  let w = weights[v];
  if (w == 0.0) {
    atomicAdd(&uncovered[0], 1u);
  }
  for (var c = 0u; c < p.channels; c++) {
    acc[c * vn + v] = acc[c * vn + v] / w;
  }
}
