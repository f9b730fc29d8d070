// Runs an ONNX model with onnxruntime-node on .npy inputs and writes each output as .npy.
// Usage: node training/onnx_run.mjs model.onnx input.npy out_dir [disabled|basic|extended|all]
// The Python parity tests call it (there is no onnxruntime for Debian's Python).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import ort from 'onnxruntime-node';

/** Parse a little-endian float32 C-order .npy file. */
function readNpy(path) {
  const buf = readFileSync(path);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + headerLen).toString('latin1');
  if (!header.includes("'descr': '<f4'") || header.includes("'fortran_order': True")) {
    throw new Error(`${path}: only little-endian float32 C-order .npy is supported`);
  }
  const shape = header
    .match(/'shape': \(([^)]*)\)/)[1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const start = 10 + headerLen;
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length));
  return { data, shape };
}

/** Write a float32 array as a version 1.0 .npy file. */
function writeNpy(path, data, shape) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header = header + ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head.writeUInt8(1, 6);
  head.writeUInt8(0, 7);
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.from(new Float32Array(data).buffer);
  writeFileSync(path, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

const [modelPath, inputPath, outDir, optLevel = 'all'] = process.argv.slice(2);
const session = await ort.InferenceSession.create(modelPath, {
  intraOpNumThreads: 1,
  graphOptimizationLevel: optLevel,
});
const input = readNpy(inputPath);
const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input.data, input.shape) };
const results = await session.run(feeds);
mkdirSync(outDir, { recursive: true });
for (const name of session.outputNames) {
  writeNpy(join(outDir, `${name}.npy`), results[name].data, results[name].dims);
}
console.log(JSON.stringify({ inputs: session.inputNames, outputs: session.outputNames }));
