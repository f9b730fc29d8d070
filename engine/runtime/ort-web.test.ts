import { createOrtWebForNode } from './ort-web-node.js';
import { runtimeCases } from './runtime-cases.js';

runtimeCases('onnxruntime-web wasm', (m) => createOrtWebForNode(m));
