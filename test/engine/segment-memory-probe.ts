/**
 * @module
 * Run by segment-memory.test.ts as `node --expose-gc`: segment() on a real 256^3 uint8 volume whose
 * tissue is cut down to a few sagittal slices, so the crop is small and the image large. At every
 * progress event (and after the label map is streamed out as .nii.gz) it collects garbage and
 * records the live ArrayBuffer bytes and the kernel module's memory. Prints JSON.
 * Usage: node --expose-gc segment-memory-probe.js IMAGE SLICES
 */
import { readFileSync } from 'node:fs';
import { readImage } from '../../engine/io/index.js';
import { segment } from '../../engine/pipeline/segment.js';
import { niftiGzipChunks } from '../../engine/protocol/nifti-stream.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { MODEL_ID, testRegistry } from './engine-helpers.js';
import { liveArrayBufferBytes } from '../support/live-bytes.js';

const [path, slicesArg] = process.argv.slice(2);
const live = liveArrayBufferBytes;

const core = await sharedKernels();
const registry = testRegistry();
const model = await registry.load(MODEL_ID);
const folds = await registry.runtimes(MODEL_ID, 'cpu', { threads: 1 });
const kernelStart = core.memoryBytes;
const baseline = live();

const image = readImage(new Uint8Array(readFileSync(path)), { storedType: true });
const [nx, ny, nz] = image.shape;
const x0 = Math.floor(nx / 2);
for (let z = 0; z < nz; z++)
  for (let y = 0; y < ny; y++) {
    const row = (z * ny + y) * nx;
    image.data.fill(0, row, row + x0);
    image.data.fill(0, row + x0 + Number(slicesArg), row + nx);
  }
const afterRead = live() - baseline;
let peak = afterRead;
const stages: string[] = [];
const result = await segment(core, image, model.manifest, folds, {
  tta: false,
  onProgress: (p) => {
    peak = Math.max(peak, live() - baseline);
    if (!stages.includes(p.stage)) stages.push(p.stage);
  },
});
let compressed = 0;
for (const chunk of niftiGzipChunks(image, result.labelMap)) {
  compressed += chunk.length;
  peak = Math.max(peak, live() - baseline);
}
const box = result.labelMap.box;
process.stdout.write(
  `${JSON.stringify({
    datatype: image.datatype,
    inputBytes: image.data.byteLength,
    cropVoxels: (box.end[0] - box.start[0]) * (box.end[1] - box.start[1]) * (box.end[2] - box.start[2]),
    afterRead,
    peak,
    kernelGrowth: core.memoryBytes - kernelStart,
    leasedAfter: core.leasedBytes,
    stages,
    compressed,
    foreground: result.stats.reduce((n, s) => n + s.voxels, 0),
  })}\n`,
);
await registry.dispose();
