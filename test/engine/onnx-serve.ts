/**
 * @module
 * A long-lived onnxruntime-node process for the Python reference predictor (Debian's Python has no
 * onnxruntime): `predict_reference.py` writes a raw float32 batch, sends `PATH B C H W` on stdin,
 * and reads back one JSON line `{name: [dims]}` after the outputs are written to `PATH.<name>`.
 * Usage: node dist/test/engine/onnx-serve.js MODEL.onnx
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createOrtNodeCpu } from '../../engine/runtime/ort-node.js';

const rt = await createOrtNodeCpu(new Uint8Array(readFileSync(process.argv[2])), { threads: 1 });
process.stdout.write('ready\n');
for await (const line of createInterface({ input: process.stdin })) {
  const [path, ...dimText] = line.trim().split(/\s+/);
  if (!path) continue;
  const dims = dimText.map(Number);
  const bytes = readFileSync(path);
  const x = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const out = await rt.run(x, dims);
  const shapes: Record<string, readonly number[]> = {};
  for (const [name, t] of Object.entries(out)) {
    writeFileSync(`${path}.${name}`, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    shapes[name] = t.dims;
  }
  process.stdout.write(`${JSON.stringify(shapes)}\n`);
}
await rt.dispose();
