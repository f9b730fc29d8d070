import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { goldens } from '../../test/support/goldens.js';
import { niftiShape } from '../../test/support/npy.js';
import { keepLargestComponent, labelComponents } from './components.js';
import { distanceTransform } from './edt.js';
import { KernelArgumentError } from './kernel-errors.js';
import { KERNEL_MEMORY_INITIAL_PAGES, type KernelCore } from './kernel-core.js';
import { loadKernelsForNode } from './node-loader.js';
import { PatchAccumulator } from './sliding-window.js';

async function freshCore(maxMemoryBytes?: number): Promise<KernelCore> {
  return loadKernelsForNode({ maxMemoryBytes });
}

test('a lease survives run() calls, which allocate above it', async () => {
  const core = await freshCore();
  const lease = core.lease(1000);
  lease.view(Float32Array).fill(7);
  core.run((heap) => {
    const p = heap.alloc(64 * 1024);
    assert.ok(p >= lease.ptr + lease.bytes);
    heap.view(Uint8Array, p, 64 * 1024).fill(255);
  });
  assert.ok(lease.view(Float32Array).every((v) => v === 7));
  lease.release();
  assert.equal(core.leasedBytes, 0);
  assert.throws(() => lease.view(Float32Array), KernelArgumentError);
});

test('released leases are reclaimed once every lease above them is released', async () => {
  const core = await freshCore();
  const a = core.lease(100);
  const b = core.lease(100);
  assert.ok(core.leasedBytes >= 224);
  a.release();
  assert.ok(core.leasedBytes >= 224, 'a sits below b: not reclaimed yet');
  b.release();
  b.release(); // idempotent
  assert.equal(core.leasedBytes, 0);
  const c = core.lease(16);
  assert.equal(c.ptr, a.ptr, 'the space is reused');
  assert.ok(
    c.view(Uint8Array).every((v) => v === 0),
    'a new lease comes zeroed',
  );
  c.release();
});

test('a lease respects the memory limit and cannot be taken inside run()', async () => {
  const core = await freshCore(4 * 65536);
  assert.throws(() => core.lease(8 * 65536), /kernel_memory|above/);
  assert.throws(
    () => core.run(() => core.lease(16)),
    (e: unknown) => e instanceof KernelArgumentError && e.code === 'kernel_state',
  );
  assert.equal(core.leasedBytes, 0);
});

test('an accumulator returns its lease on finish and on release, even when finish throws', async () => {
  const core = await freshCore();
  const done = new PatchAccumulator(core, 2, [8, 8, 1], [4, 4, 1]);
  assert.ok(core.leasedBytes > 0);
  for (const y of [0, 4]) for (const x of [0, 4]) done.add(new Float32Array(32).fill(1), [x, y, 0]);
  assert.ok(done.finish().every((v) => Math.abs(v - 1) < 1e-6));
  assert.equal(core.leasedBytes, 0);

  const uncovered = new PatchAccumulator(core, 1, [8, 4, 1], [4, 4, 1]);
  uncovered.add(new Float32Array(16), [0, 0, 0]);
  assert.throws(() => uncovered.finish(), /not covered/);
  assert.equal(core.leasedBytes, 0);

  const abandoned = new PatchAccumulator(core, 3, [16, 16, 1], [8, 8, 1]);
  abandoned.release();
  assert.equal(core.leasedBytes, 0);
});

test('repeated calls reuse kernel memory: it grows on the first round only, every run starts at one address', async () => {
  const core = await freshCore();
  const wm = goldens<unknown>('components').npy('wm_crop_mask.npy');
  const wmShape = niftiShape(wm.shape);
  const brain = goldens<unknown>('edt').npy('brain_mask.npy');
  const brainShape = niftiShape(brain.shape);
  const heapStarts: number[] = [];
  const round = () => {
    const cc = labelComponents(core, wm.data as Uint8Array, wmShape);
    keepLargestComponent(core, wm.data as Uint8Array, wmShape);
    distanceTransform(core, brain.data as Uint8Array, brainShape, [1, 1, 1]);
    heapStarts.push(core.run((heap) => heap.alloc(16)));
    return cc;
  };
  const first = round();
  const grown = core.memoryBytes;
  for (let i = 0; i < 4; i++) {
    const again = round();
    assert.equal(core.memoryBytes, grown, `round ${i + 2} grew the memory`);
    // Memory left dirty by the other kernels does not leak into the labels.
    assert.deepEqual(again.sizes, first.sizes);
    assert.ok(again.labels.every((l, j) => l === first.labels[j]));
  }
  assert.ok(heapStarts.every((p) => p === heapStarts[0]));
  assert.equal(core.leasedBytes, 0);
});

test('every kernel module declares the minimum memory a core starts with, not 0 pages', async () => {
  // The relaxed-SIMD U-Net build compiles in Node 20 only with this flag (wasm/src/node-loader.ts).
  setFlagsFromString('--experimental-wasm-relaxed-simd');
  const abort = () => {};
  for (const file of ['kernels.wasm', 'unet.wasm', 'unet.plain.wasm']) {
    const module = await WebAssembly.compile(
      readFileSync(new URL(`../../../wasm/build/${file}`, import.meta.url)),
    );
    const link = (pages: number) =>
      WebAssembly.instantiate(module, { env: { memory: new WebAssembly.Memory({ initial: pages }), abort } });
    await assert.rejects(
      link(KERNEL_MEMORY_INITIAL_PAGES - 1),
      WebAssembly.LinkError,
      `${file} declares fewer pages`,
    );
    await link(KERNEL_MEMORY_INITIAL_PAGES);
  }
});
