/**
 * The own U-Net runtime's load (engine/runtime/unet-wasm.ts) holds the file, its weights as float32
 * and the module memory it leases, and no laid-out copy besides: an edge isolate has 128 MB, module
 * memory included (docs/unet-wasm.md, "Memory"). Measured, not timed: the resident memory one load
 * adds in its own process (unet-load-memory-probe.ts). With the laid-out weights built in JS first
 * and then copied, the load added 85.5 MB for brain-wm-2d's fp16 file against 55.5 MB now.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const probe = fileURLToPath(new URL('./unet-load-memory-probe.js', import.meta.url));
const file = fileURLToPath(new URL('../../../models/brain-wm-2d/model.fp16.onnx', import.meta.url));

test("brain-wm-2d's edge file loads within its float32 weights and module memory, plus 12 MiB", (t) => {
  const stdout = execFileSync(process.execPath, ['--expose-gc', probe, file], { encoding: 'utf8' });
  const { added, moduleBytes, floatBytes } = JSON.parse(stdout.trim().split('\n').pop()!) as {
    added: number;
    moduleBytes: number;
    floatBytes: number;
  };
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  t.diagnostic(`load added ${mb(added)}: module ${mb(moduleBytes)}, float32 weights ${mb(floatBytes)}`);
  assert.ok(
    added <= moduleBytes + floatBytes + 12 * 2 ** 20,
    `the load added ${mb(added)} against ${mb(moduleBytes)} + ${mb(floatBytes)} + 12 MiB`,
  );
});
