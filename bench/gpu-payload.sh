#!/usr/bin/env bash
# Packs what `node dist/bench/gpu.js` needs on a machine that has a git checkout of this repository
# (models/, test data in ../shared/data) but no npm registry: a Node binary, the built dist/ and
# wasm/build/, the node_modules the bench loads (onnxruntime-node with its linux-x64 binaries only,
# Dawn for Node with linux-x64 only, the image readers) and the Vulkan loader. See docs/gpu-bench.md.
# Usage: bench/gpu-payload.sh [OUT.tar.xz]   (default gpu-bench-payload.tar.xz); fails above 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-gpu-bench-payload.tar.xz}")
[ -f dist/bench/gpu.js ] && [ -f wasm/build/kernels.wasm ] || npm run build
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/.gpu-payload/bin" "$stage/.gpu-payload/lib" "$stage/node_modules"
cp "$(readlink -f "$(command -v node)")" "$stage/.gpu-payload/bin/node"
cp -L "$(ldconfig -p | awk '/libvulkan\.so\.1 .*x86-64/ {print $NF; exit}')" "$stage/.gpu-payload/lib/libvulkan.so.1"
cp -r dist "$stage/dist"
mkdir -p "$stage/wasm/build" && cp wasm/build/kernels.wasm "$stage/wasm/build/"
# The packages dist/bench/gpu.js imports and their runtime dependencies, resolved from package.json files.
node --input-type=module - "$stage/node_modules" <<'JS'
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
const dest = process.argv[2];
const todo = ['onnxruntime-node', 'webgpu', 'fflate', 'fast-png', 'jpeg-js', 'dicom-parser'];
const done = new Set();
while (todo.length) {
  const name = todo.pop();
  if (done.has(name)) continue;
  done.add(name);
  const pkg = JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8'));
  cpSync(`node_modules/${name}`, `${dest}/${name}`, { recursive: true, dereference: true });
  for (const dep of Object.keys(pkg.dependencies ?? {})) if (existsSync(`node_modules/${dep}`)) todo.push(dep);
}
// Other platforms' native binaries and type-only packages are dead weight on linux-x64.
for (const p of ['darwin', 'win32', 'linux/arm64']) rmSync(`${dest}/onnxruntime-node/bin/napi-v6/${p}`, { recursive: true, force: true });
for (const p of ['darwin-universal', 'linux-arm64', 'win32-arm64', 'win32-x64']) rmSync(`${dest}/webgpu/dist/${p}`, { recursive: true, force: true });
rmSync(`${dest}/@webgpu`, { recursive: true, force: true });
console.error(`node_modules: ${[...done].sort().join(', ')}`);
JS
tar -C "$stage" -cf - .gpu-payload dist wasm/build node_modules | xz -T0 -6 > "$out"
bytes=$(stat -c %s "$out")
echo "$out: $((bytes / 1048576)) MiB ($bytes bytes)"
[ "$bytes" -le $((64 * 1048576)) ] || { echo "payload over 64 MiB" >&2; exit 1; }
