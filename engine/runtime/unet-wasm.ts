/**
 * @module
 * The edge's own runtime for plain U-Net releases: the network rebuilt from its exported weights
 * (onnx-weights.ts) and run by the layer kernels of wasm/unet/unet.ts, one image of a batch at a
 * time. It exists because onnxruntime-web's WASM kernels have no fused multiply-add and workerd's
 * V8 has it (relaxed SIMD): docs/unet-wasm.md gives the measurements and the parity.
 *
 * The network is the one training/nets/plain_conv_unet.py defines and its weights describe: encoder
 * stages of 3x3 Conv -> InstanceNorm(eps 1e-5, affine) -> LeakyReLU(0.01), stage 0 at stride 1 and
 * every later one at stride 2 (the 2x2 transposed convolution that undoes it says so), decoder stages
 * that concatenate (upsampled, skip), the top segmentation head and the optional level-set head
 * (tanh). Anything else (an nnSAM release, other kernels, unused weights) is refused with
 * {@link UnetWasmUnsupported}: the Worker then sends the run to a node.
 */
import type { KernelCore, KernelLease } from '../../wasm/src/kernel-core.js';
import { onnxStateDict, type OnnxWeight } from './onnx-weights.js';
import type { InferenceRuntime, RuntimeInfo, RuntimeTensor } from './runtime.js';

/** The weights are not of a network this runtime rebuilds. */
export class UnetWasmUnsupported extends Error {
  override readonly name = 'UnetWasmUnsupported';
}

/**
 * The cap the Worker and the page give a KernelCore of the layer module. brain-wm-2d at its 128x128
 * patch takes 43.4 MiB of it: its weights as float32, those of the Winograd convolutions transformed
 * (16 values per 3x3 kernel), one patch's feature maps and the Winograd scratch (unet-wasm.test.ts
 * runs a batch under this cap). A larger release or patch needs a larger cap; the lease past it fails
 * and the edge sends the run to a node.
 */
export const UNET_WASM_MEMORY_BYTES = 48 * 2 ** 20;

/** training/nets/plain_conv_unet.py ConvNormAct. */
const NORM_EPS = 1e-5;
const LEAKY_SLOPE = 0.01;
const F32 = 4;
/** The tiles a Winograd band holds at most; see docs/unet-wasm.md, "Winograd". */
const WINO_BAND_TILES = 64;

interface Conv {
  /** Blocked weights and bias, float32, in the weights lease. */
  w: number;
  b: number;
  gamma: number;
  beta: number;
  ic: number;
  oc: number;
  /** `w` holds winograd3x3's weights for unet_conv3x3_wino, not block3x3's. */
  winograd: boolean;
}

interface UpConv {
  w: number;
  b: number;
  ic: number;
  oc: number;
}

interface Head {
  w: number;
  b: number;
  ic: number;
  oc: number;
}

/** The network as its weights describe it. */
interface Network {
  encoder: Conv[][];
  up: UpConv[];
  decoder: Conv[][];
  seg: Head;
  levelset: Head | null;
  inChannels: number;
}

type Kernel = (...args: number[]) => void;

interface Kernels {
  conv3x3: Kernel;
  conv3x3Wino: Kernel;
  phaseSplit: Kernel;
  normLrelu: Kernel;
  upconv2x2: Kernel;
  conv1x1: Kernel;
}

/** Writes one array of laid-out weights into `out`, its place in the lease. */
type Fill = (out: Float32Array) => void;

/**
 * A packer that lays weights out in one lease: `put` returns each array's byte offset, and the
 * arrays are written straight into the lease once its size is known (`fillInto`). No laid-out copy
 * exists outside it, so a load holds the file, its float32 weights and the lease, not a fourth
 * copy (the edge isolate has 128 MB, its module memory included).
 */
class Packer {
  private readonly parts: { at: number; length: number; fill: Fill }[] = [];
  bytes = 0;

  put(length: number, fill: Fill): number {
    const at = this.bytes;
    this.parts.push({ at, length, fill });
    this.bytes += Math.ceil((length * F32) / 16) * 16;
    return at;
  }

  /** An array as it is. */
  putArray(a: Float32Array): number {
    return this.put(a.length, (out) => out.set(a));
  }

  fillInto(lease: Float32Array): void {
    for (const { at, length, fill } of this.parts) fill(lease.subarray(at / F32, at / F32 + length));
  }
}

function take(state: Map<string, OnnxWeight>, key: string, used: Set<string>): OnnxWeight {
  const w = state.get(key);
  if (!w) throw new UnetWasmUnsupported(`the weights have no ${key}`);
  used.add(key);
  return w;
}

/** The kernels' one shape: 3x3, output channels in blocks of 4. */
function check3x3(w: OnnxWeight): void {
  const [oc, , kh, kw] = w.dims;
  if (w.dims.length !== 4 || kh !== 3 || kw !== 3 || oc % 4 !== 0) {
    throw new UnetWasmUnsupported(
      `a convolution of ${w.dims.join('x')}: only 3x3 with a multiple of 4 outputs`,
    );
  }
}

/** `[oc][ic][3][3]` -> `[oc/4][ic][9][4]` (unet_conv3x3's blocking), into `pack`. */
function block3x3(w: OnnxWeight, pack: Packer): number {
  check3x3(w);
  const [oc, ic] = w.dims;
  return pack.put(w.data.length, (out) => {
    for (let o = 0; o < oc; o++) {
      for (let c = 0; c < ic; c++) {
        for (let t = 0; t < 9; t++)
          out[((((o >> 2) * ic + c) * 9 + t) << 2) + (o & 3)] = w.data[(o * ic + c) * 9 + t];
      }
    }
  });
}

/** `[ic][oc][2][2]` -> `[oc/4][ky][ic][4 o][2 kx]` (unet_upconv2x2's blocking), into `pack`. */
function blockUp(w: OnnxWeight, pack: Packer): number {
  const [ic, oc, kh, kw] = w.dims;
  if (kh !== 2 || kw !== 2 || oc % 4 !== 0) {
    throw new UnetWasmUnsupported(`a transposed convolution of ${w.dims.join('x')}: only 2x2, stride 2`);
  }
  return pack.put(w.data.length, (out) => {
    for (let c = 0; c < ic; c++) {
      for (let o = 0; o < oc; o++) {
        for (let ky = 0; ky < 2; ky++) {
          for (let kx = 0; kx < 2; kx++) {
            out[(((((o >> 2) * 2 + ky) * ic + c) * 4 + (o & 3)) << 1) + kx] =
              w.data[((c * oc + o) * 2 + ky) * 2 + kx];
          }
        }
      }
    }
  });
}

/**
 * `[oc][ic][3][3]` -> `G g G^T` per kernel, blocked `[16][oc/4][ic][4]` (unet_conv3x3_wino's
 * layout), `G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]`, into `pack`. Summed in float64, rounded
 * once.
 */
function winograd3x3(w: OnnxWeight, pack: Packer): number {
  check3x3(w);
  const [oc, ic] = w.dims;
  const g = w.data;
  return pack.put(16 * oc * ic, (out) => {
    const plane = oc * ic; // floats between consecutive xi
    const gg = new Float64Array(12);
    for (let o = 0; o < oc; o++) {
      for (let c = 0; c < ic; c++) {
        const k = (o * ic + c) * 9;
        // G g: the rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2 of the kernel's rows g0..g2.
        for (let l = 0; l < 3; l++) {
          const a = g[k + l];
          const b = g[k + 3 + l];
          const d = g[k + 6 + l];
          gg[l] = a;
          gg[3 + l] = (a + b + d) / 2;
          gg[6 + l] = (a - b + d) / 2;
          gg[9 + l] = d;
        }
        // (G g) G^T: the same combination along each row; xi = 4i + j.
        const at = (((o >> 2) * ic + c) << 2) + (o & 3);
        for (let i = 0; i < 4; i++) {
          const a = gg[3 * i];
          const b = gg[3 * i + 1];
          const d = gg[3 * i + 2];
          out[at + 4 * i * plane] = a;
          out[at + (4 * i + 1) * plane] = (a + b + d) / 2;
          out[at + (4 * i + 2) * plane] = (a - b + d) / 2;
          out[at + (4 * i + 3) * plane] = d;
        }
      }
    }
  });
}

function convAt(
  state: Map<string, OnnxWeight>,
  prefix: string,
  used: Set<string>,
  pack: Packer,
  winograd: boolean,
): Conv {
  const w = take(state, `${prefix}.conv.weight`, used);
  const b = take(state, `${prefix}.conv.bias`, used);
  const gamma = take(state, `${prefix}.norm.weight`, used);
  const beta = take(state, `${prefix}.norm.bias`, used);
  const oc = w.dims[0];
  if (b.data.length !== oc || gamma.data.length !== oc || beta.data.length !== oc) {
    throw new UnetWasmUnsupported(`${prefix}: bias or norm of another width than its ${oc} outputs`);
  }
  return {
    w: winograd ? winograd3x3(w, pack) : block3x3(w, pack),
    b: pack.putArray(b.data),
    gamma: pack.putArray(gamma.data),
    beta: pack.putArray(beta.data),
    ic: w.dims[1],
    oc,
    winograd,
  };
}

/** The convolutions of one stage; `winograd(i)` says whether conv `i` gets Winograd weights. */
function stageConvs(
  state: Map<string, OnnxWeight>,
  prefix: string,
  used: Set<string>,
  pack: Packer,
  winograd: (i: number) => boolean,
): Conv[] {
  const convs: Conv[] = [];
  while (state.has(`${prefix}.convs.${convs.length}.conv.weight`)) {
    const i = convs.length;
    convs.push(convAt(state, `${prefix}.convs.${i}`, used, pack, winograd(i)));
  }
  if (convs.length === 0) throw new UnetWasmUnsupported(`${prefix} has no convolutions`);
  for (let i = 1; i < convs.length; i++) {
    if (convs[i].ic !== convs[i - 1].oc) throw new UnetWasmUnsupported(`${prefix}: channels do not chain`);
  }
  return convs;
}

function head(state: Map<string, OnnxWeight>, prefix: string, used: Set<string>, pack: Packer): Head {
  const w = take(state, `${prefix}.weight`, used);
  const b = take(state, `${prefix}.bias`, used);
  const [oc, ic, kh, kw] = w.dims;
  if (kh !== 1 || kw !== 1 || b.data.length !== oc)
    throw new UnetWasmUnsupported(`${prefix} is not a 1x1 head`);
  return { w: pack.putArray(w.data), b: pack.putArray(b.data), ic, oc };
}

/** The network `state` describes, its weights laid out by `pack`. */
function describe(state: Map<string, OnnxWeight>, pack: Packer, winograd: boolean): Network {
  const used = new Set<string>();
  const encoder: Conv[][] = [];
  let depth = 0;
  while (state.has(`encoder.stages.${depth}.0.convs.0.conv.weight`)) depth++;
  for (let s = 0; s < depth; s++) {
    // Winograd for the stride-1 convolutions of every stage but the deepest: run() takes widths
    // that are multiples of 4 << (depth - 1) and heights of 1 << (depth - 1), so each of these
    // stages is a multiple of 8 wide and of 2 high, whole 4-tile groups (unet_conv3x3_wino).
    // Not the first convolution of a stage: stride 2, or in stage 0 the input's one or few
    // channels, where the transforms cost more than the products save (docs/unet-wasm.md).
    const wino = (i: number) => winograd && i > 0 && s <= depth - 2;
    encoder.push(stageConvs(state, `encoder.stages.${s}.0`, used, pack, wino));
  }
  if (encoder.length < 2)
    throw new UnetWasmUnsupported('not a plain U-Net export: fewer than two encoder stages');
  const up: UpConv[] = [];
  const decoder: Conv[][] = [];
  for (let j = 0; j < encoder.length - 1; j++) {
    const s = encoder.length - 2 - j;
    const w = take(state, `decoder.transpconvs.${j}.weight`, used);
    const b = take(state, `decoder.transpconvs.${j}.bias`, used);
    const below = j === 0 ? encoder[encoder.length - 1].at(-1)!.oc : decoder[j - 1].at(-1)!.oc;
    if (w.dims[0] !== below)
      throw new UnetWasmUnsupported(`decoder.transpconvs.${j} does not take ${below} channels`);
    if (b.data.length !== w.dims[1]) {
      throw new UnetWasmUnsupported(`decoder.transpconvs.${j}: a bias of another width`);
    }
    up.push({ w: blockUp(w, pack), b: pack.putArray(b.data), ic: w.dims[0], oc: w.dims[1] });
    const stage = stageConvs(state, `decoder.stages.${j}`, used, pack, () => winograd);
    if (stage[0].ic !== w.dims[1] + encoder[s].at(-1)!.oc) {
      throw new UnetWasmUnsupported(`decoder.stages.${j} does not take (upsampled, skip) channels`);
    }
    decoder.push(stage);
  }
  for (let s = 1; s < encoder.length; s++) {
    if (encoder[s][0].ic !== encoder[s - 1].at(-1)!.oc)
      throw new UnetWasmUnsupported('encoder channels do not chain');
  }
  const top = decoder.at(-1)!.at(-1)!.oc;
  const seg = head(state, `decoder.seg_layers.${encoder.length - 2}`, used, pack);
  const levelset = state.has('decoder.levelset_layer.weight')
    ? head(state, 'decoder.levelset_layer', used, pack)
    : null;
  if (seg.ic !== top || (levelset && levelset.ic !== top))
    throw new UnetWasmUnsupported('a head of another width');
  const unused = [...state.keys()].filter((k) => !used.has(k));
  if (unused.length > 0)
    throw new UnetWasmUnsupported(`weights this runtime would ignore: ${unused.slice(0, 3).join(', ')}`);
  return { encoder, up, decoder, seg, levelset, inChannels: encoder[0][0].ic };
}

/** A zero-bordered map at one resolution: where it lives and how it is addressed. */
interface MapAt {
  ptr: number;
  channels: number;
  h: number;
  w: number;
  /** Bytes per channel plane and per row, and the byte address of the interior's (0, 0). */
  ch: number;
  row: number;
  interior: number;
}

/** Every buffer and call of one input size, laid out once and reused by every image. */
class Plan {
  readonly steps: (() => void)[] = [];
  readonly input: MapAt;
  readonly logits: number;
  readonly levelset: number;

  constructor(
    net: Network,
    k: Kernels,
    base: number,
    readonly h: number,
    readonly w: number,
    readonly bytes: { value: number },
  ) {
    let top = base;
    const alloc = (n: number) => {
      const at = top;
      top += Math.ceil(n / 16) * 16;
      return at;
    };
    const mapAt = (channels: number, s: number): MapAt => {
      const mh = h >> s;
      const mw = w >> s;
      const ch = (mh + 2) * (mw + 2) * F32;
      const ptr = alloc(channels * ch);
      return { ptr, channels, h: mh, w: mw, ch, row: (mw + 2) * F32, interior: ptr + (mw + 3) * F32 };
    };
    // unet_conv3x3's nine tap offsets: a row part plus a column part.
    const taps = (rows: number[], cols: number[]) => {
      const at = alloc(9 * 4);
      this.tapWrites.push([at, rows.flatMap((r) => cols.map((c) => r + c))]);
      return at;
    };
    // unet_conv3x3_wino's scratch, one for every convolution, allocated once its size is known.
    const scratch = { ptr: 0, bytes: 0 };
    const conv = (c: Conv, src: MapAt, dst: MapAt, dstChannel = 0) => {
      const out = dst.interior + dstChannel * dst.ch;
      if (c.winograd) {
        // run() admits only sizes that give every Winograd stage these (describe).
        if (dst.w % 8 !== 0 || dst.h % 2 !== 0) throw new Error(`no Winograd tiling of ${dst.h}x${dst.w}`);
        const tw = dst.w / 2;
        // Bands of whole tile rows that divide the map, up to WINO_BAND_TILES tiles.
        let rows = Math.max(1, Math.min(dst.h / 2, Math.floor(WINO_BAND_TILES / tw)));
        while ((dst.h / 2) % rows !== 0) rows--;
        scratch.bytes = Math.max(scratch.bytes, 16 * (F32 * (c.ic + c.oc) * rows * tw + 128));
        this.steps.push(() => {
          k.conv3x3Wino(
            src.ptr,
            src.ch,
            src.row,
            c.w,
            c.b,
            out,
            dst.ch,
            dst.row,
            c.ic,
            c.oc,
            dst.h,
            dst.w,
            scratch.ptr,
            rows,
          );
          k.normLrelu(out, dst.ch, dst.row, c.oc, dst.h, dst.w, c.gamma, c.beta, NORM_EPS, LEAKY_SLOPE);
        });
        return;
      }
      const t = taps([0, src.row, 2 * src.row], [0, F32, 2 * F32]);
      this.steps.push(() => {
        k.conv3x3(src.ptr, src.ch, src.row, t, c.w, c.b, out, dst.ch, dst.row, c.ic, c.oc, dst.h, dst.w);
        k.normLrelu(out, dst.ch, dst.row, c.oc, dst.h, dst.w, c.gamma, c.beta, NORM_EPS, LEAKY_SLOPE);
      });
    };
    const stridedConv = (c: Conv, src: MapAt, dst: MapAt, dstChannel = 0) => {
      // Phase planes of src: (h/2+1) x (w/2+1) each, four per channel (unet_phase_split).
      const pw = dst.w + 1;
      const plane = (dst.h + 1) * pw * F32;
      const phases = alloc(src.channels * 4 * plane);
      const t = taps([0, 2 * plane, pw * F32], [0, plane, F32]);
      const out = dst.interior + dstChannel * dst.ch;
      this.steps.push(() => {
        k.phaseSplit(src.ptr, src.channels, src.h, src.w, phases);
        k.conv3x3(phases, 4 * plane, pw * F32, t, c.w, c.b, out, dst.ch, dst.row, c.ic, c.oc, dst.h, dst.w);
        k.normLrelu(out, dst.ch, dst.row, c.oc, dst.h, dst.w, c.gamma, c.beta, NORM_EPS, LEAKY_SLOPE);
      });
    };
    const depth = net.encoder.length;
    this.input = mapAt(net.inChannels, 0);
    // The decoder's inputs, (upsampled, skip): each encoder stage but the last writes its output
    // straight into the skip half, so no concatenation copies anything.
    const cats = net.up.map((u, j) => {
      const s = depth - 2 - j;
      return { s, map: mapAt(u.oc + net.encoder[s].at(-1)!.oc, s), skipAt: u.oc };
    });
    const catOf = (s: number) => cats.find((c) => c.s === s)!;
    let x = this.input;
    net.encoder.forEach((stage, s) => {
      stage.forEach((c, i) => {
        const last = i === stage.length - 1;
        const into = last && s < depth - 1 ? catOf(s) : null;
        const dst = into ? into.map : mapAt(c.oc, s);
        const channel = into ? into.skipAt : 0;
        if (i === 0 && s > 0) stridedConv(c, x, dst, channel);
        else conv(c, x, dst, channel);
        // A map whose skip half was written reads as that half from here on.
        x = into
          ? {
              ...dst,
              ptr: dst.ptr + channel * dst.ch,
              interior: dst.interior + channel * dst.ch,
              channels: c.oc,
            }
          : dst;
      });
    });
    net.decoder.forEach((stage, j) => {
      const u = net.up[j];
      const cat = cats[j].map;
      const src = x;
      this.steps.push(() =>
        k.upconv2x2(
          src.interior,
          src.ch,
          src.row,
          u.w,
          u.b,
          cat.interior,
          cat.ch,
          cat.row,
          u.ic,
          u.oc,
          src.h,
          src.w,
        ),
      );
      x = cat;
      stage.forEach((c) => {
        const dst = mapAt(c.oc, cats[j].s);
        conv(c, x, dst);
        x = dst;
      });
    });
    scratch.ptr = alloc(scratch.bytes);
    const plane = h * w * F32;
    this.logits = alloc(net.seg.oc * plane);
    this.levelset = net.levelset ? alloc(net.levelset.oc * plane) : 0;
    const last = x;
    this.steps.push(() => {
      k.conv1x1(
        last.interior,
        last.ch,
        last.row,
        net.seg.w,
        net.seg.b,
        this.logits,
        net.seg.ic,
        net.seg.oc,
        h,
        w,
      );
      if (net.levelset) {
        const ls = net.levelset;
        k.conv1x1(last.interior, last.ch, last.row, ls.w, ls.b, this.levelset, ls.ic, ls.oc, h, w);
      }
    });
    this.bytes.value = top - base;
  }

  /** The tap offsets to write into the lease before the first run. */
  readonly tapWrites: [number, number[]][] = [];
}

/**
 * Rebuilds the plain U-Net of `model` (an exported model.onnx or model.fp16.onnx) on `core`, a
 * KernelCore of wasm/build/unet.wasm (or unet.plain.wasm). Throws {@link UnetWasmUnsupported} for
 * a file it does not rebuild.
 */
export function createUnetWasm(
  core: KernelCore,
  model: Uint8Array,
  options: { winograd?: boolean } = {},
): InferenceRuntime {
  const pack = new Packer();
  const net = describe(onnxStateDict(model), pack, options.winograd ?? true);
  // Looked up before the lease: a module without one of them leaks nothing.
  const kernels: Kernels = {
    conv3x3: core.fn<Kernel>('unet_conv3x3'),
    conv3x3Wino: core.fn<Kernel>('unet_conv3x3_wino'),
    phaseSplit: core.fn<Kernel>('unet_phase_split'),
    normLrelu: core.fn<Kernel>('unet_norm_lrelu'),
    upconv2x2: core.fn<Kernel>('unet_upconv2x2'),
    conv1x1: core.fn<Kernel>('unet_conv1x1'),
  };
  const weights = core.lease(pack.bytes);
  pack.fillInto(weights.view(Float32Array));
  // Every pointer in the network is an offset into the weights lease until here.
  const shift = (o: { w: number; b: number; gamma?: number; beta?: number }) => {
    o.w += weights.ptr;
    o.b += weights.ptr;
    if (o.gamma !== undefined) o.gamma += weights.ptr;
    if (o.beta !== undefined) o.beta += weights.ptr;
  };
  [
    ...net.encoder.flat(),
    ...net.decoder.flat(),
    ...net.up,
    net.seg,
    ...(net.levelset ? [net.levelset] : []),
  ].forEach(shift);
  return new UnetWasmRuntime(core, net, kernels, weights);
}

class UnetWasmRuntime implements InferenceRuntime {
  readonly info: RuntimeInfo = { requested: 'wasm', provider: 'wasm', threads: 1 };
  readonly inputName = 'input';
  readonly outputNames: readonly string[];
  private plan: { plan: Plan; lease: KernelLease } | null = null;
  private disposed = false;

  constructor(
    private readonly core: KernelCore,
    private readonly net: Network,
    private readonly kernels: Kernels,
    private readonly weights: KernelLease,
  ) {
    this.outputNames = net.levelset ? ['logits', 'levelset'] : ['logits'];
  }

  private planFor(h: number, w: number): Plan {
    if (this.plan && this.plan.plan.h === h && this.plan.plan.w === w) return this.plan.plan;
    this.plan?.lease.release();
    this.plan = null;
    // Lay out once at offset 0 to learn the size, then for real inside a lease of that size.
    const size = { value: 0 };
    new Plan(this.net, this.kernels, 0, h, w, size);
    const lease = this.core.lease(size.value);
    const plan = new Plan(this.net, this.kernels, lease.ptr, h, w, size);
    const i32 = new Int32Array(lease.view(Uint8Array).buffer);
    for (const [at, values] of plan.tapWrites) i32.set(values, at / 4);
    this.plan = { plan, lease };
    return plan;
  }

  async run(input: Float32Array, dims: readonly number[]): Promise<Record<string, RuntimeTensor>> {
    if (this.disposed) throw new Error('the U-Net runtime was disposed');
    const depth = this.net.encoder.length;
    const [batch, channels, h, w] = dims;
    const step = 4 << (depth - 1);
    if (
      dims.length !== 4 ||
      !dims.every((d) => Number.isSafeInteger(d) && d > 0) ||
      channels !== this.net.inChannels ||
      h % (1 << (depth - 1)) !== 0 ||
      w % step !== 0
    ) {
      throw new UnetWasmUnsupported(
        `input ${dims.join('x')}: this network takes [B, ${this.net.inChannels}, H, W] with H a multiple of ${1 << (depth - 1)} and W of ${step}`,
      );
    }
    if (input.length !== batch * channels * h * w) throw new Error('input length does not match its dims');
    const plan = this.planFor(h, w);
    const plane = h * w;
    const logits = new Float32Array(batch * this.net.seg.oc * plane);
    const ls = this.net.levelset;
    const levelset = ls ? new Float32Array(batch * ls.oc * plane) : null;
    // The module's whole memory; taken afresh per image (growth elsewhere would detach it).
    const memory = () => new Float32Array(this.plan!.lease.view(Uint8Array).buffer);
    for (let b = 0; b < batch; b++) {
      const f = memory();
      const m = plan.input;
      for (let c = 0; c < channels; c++) {
        for (let y = 0; y < h; y++) {
          const src = ((b * channels + c) * h + y) * w;
          f.set(input.subarray(src, src + w), (m.interior + c * m.ch + y * m.row) / F32);
        }
      }
      for (const s of plan.steps) s();
      const out = memory();
      logits.set(
        out.subarray(plan.logits / F32, plan.logits / F32 + this.net.seg.oc * plane),
        b * this.net.seg.oc * plane,
      );
      if (ls && levelset) {
        const n = ls.oc * plane;
        const at = plan.levelset / F32;
        for (let i = 0; i < n; i++) levelset[b * n + i] = Math.tanh(out[at + i]);
      }
    }
    const result: Record<string, RuntimeTensor> = {
      logits: { data: logits, dims: [batch, this.net.seg.oc, h, w] },
    };
    if (ls && levelset) result.levelset = { data: levelset, dims: [batch, ls.oc, h, w] };
    return result;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.plan?.lease.release();
    this.weights.release();
  }
}
