// Compiles every kernel file in wasm/assembly/ (not the inline/ helpers) into one SIMD module.
// One module keeps one memory and one instantiation per isolate; every kernel is an export of it.
import { readdirSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const here = dirname(fileURLToPath(import.meta.url));
const entries = readdirSync(join(here, 'assembly'))
  .filter((f) => f.endsWith('.ts'))
  .sort()
  .map((f) => join(here, 'assembly', f));
mkdirSync(join(here, 'build'), { recursive: true });

const { error, stderr } = await asc.main([
  ...entries,
  '--outFile',
  join(here, 'build', 'kernels.wasm'),
  '--textFile',
  join(here, 'build', 'kernels.wat'),
  '--runtime',
  'stub',
  '--importMemory',
  '--enable',
  'simd',
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
console.log(`build:wasm: ${entries.length} kernel files -> wasm/build/kernels.wasm`);
