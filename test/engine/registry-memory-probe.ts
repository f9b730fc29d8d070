/**
 * @module
 * Run by registry-memory.test.ts as `node --expose-gc`: loads one model through the registry and
 * reports what that costs in memory (docs/nnunet-inference.md, "Memory"). The peak resident growth
 * while the release's files are verified, over the resident size before; and the live ArrayBuffer
 * growth when the runtime factory receives the weights (a factory that records and refuses, so no
 * session muddies the count). Prints JSON.
 * Usage: node --expose-gc registry-memory-probe.js MODELS_ROOT MODEL_ID
 */
import { readFileSync } from 'node:fs';
import { ModelRegistry } from '../../engine/models/registry.js';
import { liveArrayBufferBytes } from '../support/live-bytes.js';

const [root, id] = process.argv.slice(2);
const live = liveArrayBufferBytes;
const status = (key: 'VmRSS' | 'VmHWM'): number =>
  Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

let weightBytes = 0;
let liveAtFactory = 0;
const registry = new ModelRegistry(root, (bytes) => {
  weightBytes = bytes.byteLength;
  liveAtFactory = live();
  return Promise.reject(new Error('probe: no session'));
});
const baseline = live();
const rssBefore = status('VmRSS');
await registry.load(id);
const verifyPeakGrowth = status('VmHWM') - rssBefore;
await registry.runtimes(id, 'cpu').then(
  () => {
    throw new Error('the probe factory should have refused');
  },
  () => undefined,
);
process.stdout.write(
  `${JSON.stringify({ weightBytes, verifyPeakGrowth, factoryLiveGrowth: liveAtFactory - baseline })}\n`,
);
