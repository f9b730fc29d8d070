// The own U-Net runtime against the case suite every backend runs, once per build of its layer
// module: relaxed SIMD (what workerd runs; Node 20 validates it only with the V8 flag set here) and
// plain SIMD. Then what it refuses, and the memory it needs within the cap the Worker gives it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { loadUnetForNode } from '../../wasm/src/node-loader.js';
import { halfToFloat, moduleOfScope, onnxStateDict } from './onnx-weights.js';
import { CASE_MODEL_DIR, runtimeCases } from './runtime-cases.js';
import { createOrtNodeCpu } from './ort-node.js';
import { createUnetWasm, UNET_WASM_MEMORY_BYTES, UnetWasmUnsupported } from './unet-wasm.js';
import { KernelCore } from '../../wasm/src/kernel-core.js';

setFlagsFromString('--experimental-wasm-relaxed-simd');

runtimeCases('own U-Net, relaxed SIMD', async (m) => createUnetWasm(await loadUnetForNode('relaxed'), m), {
  provider: 'wasm',
});
runtimeCases('own U-Net, plain SIMD', async (m) => createUnetWasm(await loadUnetForNode('plain'), m), {
  provider: 'wasm',
});
// Without Winograd every stride-1 convolution runs unet_conv3x3: the baseline bench/unet-winograd.ts
// times Winograd against, held to the same goldens.
runtimeCases(
  'own U-Net, relaxed SIMD, direct convolutions',
  async (m) => createUnetWasm(await loadUnetForNode('relaxed'), m, { winograd: false }),
  { provider: 'wasm' },
);

const file = (name: string) => new Uint8Array(readFileSync(`${CASE_MODEL_DIR}${name}`));

test('the fp16 file gives the fp32 file its weights to fp16 precision, norms included', () => {
  const fp32 = onnxStateDict(file('model.onnx'));
  const fp16 = onnxStateDict(file('model.fp16.onnx'));
  assert.deepEqual([...fp16.keys()].sort(), [...fp32.keys()].sort());
  // 22 conv-norm blocks, each with its norm's scale and shift read through the export scope.
  assert.equal([...fp32.keys()].filter((k) => k.endsWith('.norm.weight')).length, 22);
  for (const [k, w] of fp32) {
    const h = fp16.get(k)!;
    assert.deepEqual(h.dims, w.dims, k);
    for (let i = 0; i < w.data.length; i++) {
      assert.ok(Math.abs(h.data[i] - w.data[i]) <= Math.abs(w.data[i]) * 2 ** -11 + 2 ** -24, `${k}[${i}]`);
    }
  }
});

test('halves decode exactly; scopes name their modules', () => {
  const cases: [number, number][] = [
    [0x3c00, 1],
    [0xc000, -2],
    [0x7bff, 65504],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x3555, 0.333251953125],
    [0x8000, -0],
    [0x7c00, Infinity],
  ];
  for (const [h, f] of cases) assert.ok(Object.is(halfToFloat(h), f), `0x${h.toString(16)}`);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.equal(
    moduleOfScope('/net/encoder/stages.0/stages.0.0/convs/convs.0/all_modules/norm/Mul_1_output_0'),
    'encoder.stages.0.0.convs.0.norm',
  );
  assert.equal(
    moduleOfScope('/net/decoder/stages.4/convs/convs.1/all_modules/norm/Add_1_output_0'),
    'decoder.stages.4.convs.1.norm',
  );
});

test('refuses what it would not rebuild: the web graph, an nnSAM release, other input sizes', async () => {
  const core = await loadUnetForNode('plain');
  // Its wide layers are Winograd MatMuls: their convolution weights are not there.
  assert.throws(() => createUnetWasm(core, file('model.web.onnx')), UnetWasmUnsupported);
  const nnsam = new Uint8Array(
    readFileSync(new URL('../../../models/nnsam-tinyvit-random/model.onnx', import.meta.url)),
  );
  assert.throws(() => createUnetWasm(core, nnsam), UnetWasmUnsupported);
  assert.throws(() => createUnetWasm(core, new Uint8Array([0x08, 0x07])), /no ONNX graph/);
  // A failed load leaves nothing leased.
  assert.equal(core.leasedBytes, 0);
  const rt = createUnetWasm(core, file('model.fp16.onnx'));
  try {
    // Six stages: H a multiple of 32, W of 4 x 32 (the 4-wide SIMD rows of the deepest stage).
    await assert.rejects(rt.run(new Float32Array(100 * 128), [1, 1, 100, 128]), UnetWasmUnsupported);
    await assert.rejects(rt.run(new Float32Array(128 * 96), [1, 1, 128, 96]), UnetWasmUnsupported);
    await assert.rejects(rt.run(new Float32Array(2 * 128 * 128), [1, 2, 128, 128]), UnetWasmUnsupported);
    await assert.rejects(rt.run(new Float32Array(10), [1, 1, 128, 128]), /does not match its dims/);
    // Zero, negative or fractional dims are refused, not looped over or read out of the plan.
    await assert.rejects(rt.run(new Float32Array(4096), [1, 1, -32, -128]), UnetWasmUnsupported);
    await assert.rejects(rt.run(new Float32Array(0), [1e300, 1, 0, 0]), UnetWasmUnsupported);
    await assert.rejects(rt.run(new Float32Array(128 * 128), [0.5, 2, 128, 128]), UnetWasmUnsupported);
    const ok = await rt.run(new Float32Array(128 * 256), [1, 1, 128, 256]);
    assert.deepEqual(ok.logits.dims, [1, 2, 128, 256]);
  } finally {
    await rt.dispose();
  }
  assert.equal(core.leasedBytes, 0, 'dispose gives every lease back');
});

test(`brain-wm-2d loads and runs a 128x128 batch within UNET_WASM_MEMORY_BYTES (${UNET_WASM_MEMORY_BYTES / 2 ** 20} MiB)`, async (t) => {
  const plain = readFileSync(new URL('../../../wasm/build/unet.plain.wasm', import.meta.url));
  const core = await KernelCore.create(await WebAssembly.compile(plain), {
    maxMemoryBytes: UNET_WASM_MEMORY_BYTES,
  });
  const rt = createUnetWasm(core, file('model.fp16.onnx'));
  await rt.run(new Float32Array(8 * 128 * 128).fill(0.5), [8, 1, 128, 128]);
  t.diagnostic(`memory ${(core.memoryBytes / 2 ** 20).toFixed(1)} MiB`);
  await rt.dispose();
});

test('by default the stride-1 convolutions run as Winograd F(2x2, 3x3): other rounding, the same result', async () => {
  const model = file('model.fp16.onnx');
  const wino = createUnetWasm(await loadUnetForNode('plain'), model);
  const direct = createUnetWasm(await loadUnetForNode('plain'), model, { winograd: false });
  try {
    const x = Float32Array.from({ length: 128 * 128 }, (_, i) => Math.sin(i * 0.37) * 2);
    const a = (await wino.run(x, [1, 1, 128, 128])).logits.data;
    const b = (await direct.run(x, [1, 1, 128, 128])).logits.data;
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    assert.ok(worst > 0, 'the default run is the direct one bit for bit');
    assert.ok(worst <= 2e-4, `max |Winograd - direct| ${worst}`);
  } finally {
    await wino.dispose();
    await direct.dispose();
  }
});

test('other input sizes match onnxruntime-node on a copy of model.onnx with free spatial dims', async (t) => {
  // The export fixes 128x128; the copy (written by Debian's onnx, as the goldens are) lets
  // onnxruntime-node run the sizes that take the runtime's other paths: 96 and 160 rows leave 3 and
  // 5 at the deepest stage (its two-row blocks and their one-row tail), 256 and 384 columns other
  // widths than the patch's.
  const dir = mkdtempSync(join(tmpdir(), 'unet-sizes-'));
  const free = join(dir, 'model.free.onnx');
  try {
    execFileSync('/usr/bin/python3', [
      '-c',
      [
        'import sys, onnx',
        'm = onnx.load(sys.argv[1])',
        'for v in list(m.graph.input) + list(m.graph.output):',
        '    d = v.type.tensor_type.shape.dim',
        "    d[2].dim_param = 'h'",
        "    d[3].dim_param = 'w'",
        'onnx.save(m, sys.argv[2])',
      ].join('\n'),
      `${CASE_MODEL_DIR}model.onnx`,
      free,
    ]);
    const ort = await createOrtNodeCpu(new Uint8Array(readFileSync(free)), { threads: 1 });
    const rt = createUnetWasm(await loadUnetForNode('plain'), file('model.onnx'));
    try {
      for (const [b, h, w] of [
        [2, 96, 128],
        [1, 160, 256],
        [1, 128, 384],
      ]) {
        const x = Float32Array.from({ length: b * h * w }, (_, i) => Math.sin(i * 0.37) * 2);
        const want = await ort.run(x, [b, 1, h, w]);
        const got = await rt.run(x, [b, 1, h, w]);
        for (const name of ['logits', 'levelset']) {
          assert.deepEqual(got[name].dims, want[name].dims);
          let worst = 0;
          for (let i = 0; i < want[name].data.length; i++) {
            worst = Math.max(worst, Math.abs(got[name].data[i] - want[name].data[i]));
          }
          t.diagnostic(`${b}x${h}x${w} ${name}: max |diff| ${worst}`);
          assert.ok(worst <= 1e-3, `${b}x${h}x${w} ${name}: max |diff| ${worst}`);
        }
      }
    } finally {
      await rt.dispose();
      await ort.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
