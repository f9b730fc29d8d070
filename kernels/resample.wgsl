// In-plane linear resampling (order 1) of [planes][nj][ni] f32 planes (i fastest) with
// skimage.transform.resize(order=1, mode='edge', anti_aliasing=False) semantics: scipy zoom's
// grid-mode taps with edge clamping (the tap tables, computed in f64 by the TypeScript wrapper as
// the WASM kernel's are), then the result clipped to each input plane's [min, max].

struct Params {
  planes: u32,
  ni: u32,
  nj: u32,
  oi: u32,
  oj: u32,
}

// Per output index along one axis: two input samples (clamped to the line) and their weights.
struct Tap {
  lo: u32,
  hi: u32,
  w0: f32,
  w1: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> taps_i: array<Tap>;
@group(0) @binding(3) var<storage, read> taps_j: array<Tap>;
// Per plane: min, max.
@group(0) @binding(4) var<storage, read_write> range: array<f32>;
@group(0) @binding(5) var<storage, read_write> dst: array<f32>;

var<workgroup> lo_part: array<f32, 64>;
var<workgroup> hi_part: array<f32, 64>;

// One workgroup per input plane: its minimum and maximum.
@compute @workgroup_size(64)
fn plane_range(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let n = p.ni * p.nj;
  let base = wid.x * n;
  var mn = src[base];
  var mx = mn;
  for (var i = li; i < n; i += 64u) {
    let v = src[base + i];
    mn = min(mn, v);
    mx = max(mx, v);
  }
  lo_part[li] = mn;
  hi_part[li] = mx;
  workgroupBarrier();
  for (var step = 32u; step > 0u; step >>= 1u) {
    if (li < step) {
      lo_part[li] = min(lo_part[li], lo_part[li + step]);
      hi_part[li] = max(hi_part[li], hi_part[li + step]);
    }
    workgroupBarrier();
  }
  if (li == 0u) {
    range[2u * wid.x] = lo_part[0];
    range[2u * wid.x + 1u] = hi_part[0];
  }
}

// One invocation per output sample: along i, then along j, then clipped.
@compute @workgroup_size(64)
fn resample_linear(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.y * nwg.x * 64u + gid.x;
  let plane_out = p.oi * p.oj;
  if (o >= p.planes * plane_out) {
    return;
  }
  let plane = o / plane_out;
  let ti = taps_i[o % p.oi];
  let tj = taps_j[(o % plane_out) / p.oi];
  let base = plane * p.ni * p.nj;
  let row0 = base + tj.lo * p.ni;
  let row1 = base + tj.hi * p.ni;
  let r0 = src[row0 + ti.lo] * ti.w0 + src[row0 + ti.hi] * ti.w1;
  let r1 = src[row1 + ti.lo] * ti.w0 + src[row1 + ti.hi] * ti.w1;
  let v = r0 * tj.w0 + r1 * tj.w1;
  dst[o] = min(max(v, range[2u * plane]), range[2u * plane + 1u]);
}
