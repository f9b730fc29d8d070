// Compiles every kernel file in wasm/assembly/ (not the inline/ helpers) into one SIMD module.
// One module keeps one memory and one instantiation per isolate; every kernel is an export of it.
// The U-Net's layers (wasm/unet/) are a module of their own, built twice: with relaxed SIMD (fused
// multiply-add, docs/unet-wasm.md) and without it, for engines that lack it (Node 20 without a flag,
// Safari). The kernels module stays plain SIMD so that it loads everywhere.
import { readdirSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const here = dirname(fileURLToPath(import.meta.url));
mkdirSync(join(here, 'build'), { recursive: true });

/** Compiles `entries` into wasm/build/`file` with the WASM `features`; exits on an error. */
async function compile(entries, file, features, extra = []) {
  const { error, stderr } = await asc.main([
    ...entries,
    '--outFile',
    join(here, 'build', file),
    ...extra,
    '--runtime',
    'stub',
    '--importMemory',
    // The imported memory's declared minimum, KERNEL_MEMORY_INITIAL_PAGES (wasm/src/kernel-core.ts):
    // an engine that bounds-checks explicitly (workerd) then drops each access's "is the memory at
    // least this long" test, which a minimum of 0 keeps in every loop (docs/unet-wasm.md).
    '--initialMemory',
    '2',
    '--enable',
    features,
    '--optimizeLevel',
    '3',
    '--shrinkLevel',
    '0',
    '--noAssert',
    '--converge',
  ]);
  if (error) {
    console.error(stderr.toString());
    console.error(`build:wasm failed: ${error.message}`);
    process.exit(1);
  }
}

const entries = readdirSync(join(here, 'assembly'))
  .filter((f) => f.endsWith('.ts'))
  .sort()
  .map((f) => join(here, 'assembly', f));
await compile(entries, 'kernels.wasm', 'simd', ['--textFile', join(here, 'build', 'kernels.wat')]);
console.log(`build:wasm: ${entries.length} kernel files -> wasm/build/kernels.wasm`);

for (const [file, features] of [
  ['unet.wasm', 'simd,relaxed-simd'],
  ['unet.plain.wasm', 'simd'],
]) {
  await compile([join(here, 'unet', 'unet.ts')], file, features);
  console.log(`build:wasm: wasm/unet/unet.ts -> wasm/build/${file}`);
}
