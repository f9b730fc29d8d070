/**
 * @module
 * The inference node: the Hono app behind `POST /v1/run`, its run queue and metrics, the streamed
 * NIfTI encoder, the HTTP server, and the frame format shared with the edge Worker.
 */
export * from '../protocol/index.js';
export { createNodeApp, type NodeApp, type NodeAppOptions, type NodeLog } from './node-app.js';
export {
  autoConcurrency,
  coresPerRun,
  resolveConcurrency,
  type ConcurrencySetting,
  type MachineShape,
} from './concurrency.js';
export { RunQueue, SlotReleasedError, type RunSlot } from './run-queue.js';
export {
  createNodeMetrics,
  type DeviceGauges,
  type NodeMetrics,
  type QueueGauges,
  type RunStage,
} from './node-metrics.js';
export { NodeDeviceState } from './node-device.js';
export { startNode, type RunningNode, type StartNodeOptions } from './serve.js';
