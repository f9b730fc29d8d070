// Softmax and argmax over the channel axis of a [C][N] stack of channel planes (channel c of voxel i
// at c * N + i), the last step of nnU-Net's convert_logits_to_segmentation. One invocation per voxel
// (argmax: per four voxels, packed into one u32 as four bytes, little-endian like a Uint8Array).

struct Params {
  n: u32,
  channels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
@group(0) @binding(3) var<storage, read_write> labels: array<u32>;

fn thread_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.y * nwg.x * 64u + gid.x;
}

// True for any NaN, by its bits: compilers may fold `v != v` away.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// probs[c][i] = exp(x[c][i] - m[i]) / sum_c exp(x[c][i] - m[i]), m[i] the voxel's maximum, so every
// exponent is <= 0 and nothing overflows.
@compute @workgroup_size(64)
fn softmax_ch(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = thread_index(gid, nwg);
  if (i >= p.n) {
    return;
  }
  var m = values[i];
  for (var c = 1u; c < p.channels; c++) {
    m = max(m, values[c * p.n + i]);
  }
  var s = 0.0;
  for (var c = 0u; c < p.channels; c++) {
    let e = exp(values[c * p.n + i] - m);
    probs[c * p.n + i] = e;
    s += e;
  }
  for (var c = 0u; c < p.channels; c++) {
    probs[c * p.n + i] = probs[c * p.n + i] / s;
  }
}

// The first channel holding the voxel's maximum, as numpy's argmax: a later equal value never wins
// and a NaN counts as the maximum (its first occurrence wins). At most 256 channels (one byte).
@compute @workgroup_size(64)
fn argmax_ch(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = thread_index(gid, nwg);
  if (w * 4u >= p.n) {
    return;
  }
  var word = 0u;
  for (var k = 0u; k < 4u; k++) {
    let i = w * 4u + k;
    if (i >= p.n) {
      break;
    }
    var best = values[i];
    var idx = 0u;
    for (var c = 1u; c < p.channels; c++) {
      let v = values[c * p.n + i];
      if (v > best || (is_nan(v) && !is_nan(best))) {
        best = v;
        idx = c;
      }
    }
    word |= idx << (8u * k);
  }
  labels[w] = word;
}
