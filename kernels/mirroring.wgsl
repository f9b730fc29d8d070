// Mirroring test-time augmentation on [planes][rows][cols] batches (cols fastest): flip a network
// input, or un-flip a network output and add it into a channel stack, then scale the sum by
// 1 / (folds x flips). One invocation per destination element; additions happen in the same order
// and f32 precision as engine/inference/slice-predictor.ts.

struct Params {
  // Source planes: batch x channels of this output.
  planes: u32,
  rows: u32,
  cols: u32,
  // Bit 0: flip rows (spatial axis 0); bit 1: flip columns (spatial axis 1).
  flips: u32,
  // Channels of this output (source planes per batch item).
  channels: u32,
  // Channels of the stack (destination planes per batch item), and where this output starts in it.
  stack: u32,
  offset: u32,
  // 0: dst = flip(src); 1: dst += flip(src).
  add: u32,
  // scale: the factor (over planes x rows x cols elements of dst).
  factor: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn thread_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.y * nwg.x * 64u + gid.x;
}

@compute @workgroup_size(64)
fn flip_planes(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = thread_index(gid, nwg);
  let plane = p.rows * p.cols;
  if (i >= p.planes * plane) {
    return;
  }
  let sp = i / plane;
  let r = (i % plane) / p.cols;
  let c = i % p.cols;
  var fr = r;
  if ((p.flips & 1u) != 0u) {
    fr = p.rows - 1u - r;
  }
  var fc = c;
  if ((p.flips & 2u) != 0u) {
    fc = p.cols - 1u - c;
  }
  let v = src[sp * plane + fr * p.cols + fc];
  let dp = (sp / p.channels) * p.stack + p.offset + sp % p.channels;
  let d = dp * plane + r * p.cols + c;
  if (p.add != 0u) {
    dst[d] = dst[d] + v;
  } else {
    dst[d] = v;
  }
}

// dst[i] *= factor for planes x rows x cols elements.
@compute @workgroup_size(64)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = thread_index(gid, nwg);
  if (i < p.planes * p.rows * p.cols) {
    dst[i] = dst[i] * p.factor;
  }
}
