/**
 * @module
 * Prometheus metrics of one inference node app. Each app owns its own prom-client `Registry`
 * (never the global default), so several apps in one process (tests, a multi-port launcher) keep
 * separate counts and do not fail on duplicate registration.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NodeDevice } from '../protocol/node-health.js';

/** Stages of a run whose durations are observed. */
export type RunStage = 'queued' | 'reading' | 'preprocess' | 'predict' | 'postprocess' | 'encode';

/** The metrics of one app. */
export interface NodeMetrics {
  registry: Registry;
  requests: Counter<'route' | 'status'>;
  requestDuration: Histogram<'route'>;
  stage: Histogram<'stage'>;
  rejected: Counter<'reason'>;
  runFailures: Counter<'code'>;
}

/** Where the device gauges read the node's device state on each scrape. */
export interface DeviceGauges {
  snapshot(): NodeDevice;
}

/** Where the in-flight and queued gauges read their values on each scrape. */
export interface QueueGauges {
  readonly running: number;
  readonly queued: number;
}

const DURATION_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** Creates the app's registry with the node's metrics and the default Node process metrics. */
export function createNodeMetrics(queue: QueueGauges, device: DeviceGauges): NodeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  new Gauge({
    name: 'nnsam_node_device_info',
    help: 'Always 1: where the models run (requested device, provider now, the WebGPU adapter if any).',
    labelNames: [
      'requested',
      'provider',
      'adapter_vendor',
      'adapter_architecture',
      'adapter',
      'fallback_adapter',
    ],
    registers,
    collect() {
      const d = device.snapshot();
      this.reset();
      this.set(
        {
          requested: d.requested,
          provider: d.provider,
          adapter_vendor: d.adapter?.vendor ?? '',
          adapter_architecture: d.adapter?.architecture ?? '',
          adapter: d.adapter?.description ?? '',
          fallback_adapter: d.adapter ? String(d.adapter.fallback_adapter) : '',
        },
        1,
      );
    },
  });
  new Gauge({
    name: 'nnsam_node_device_fallback',
    help: '1 when the node was asked for WebGPU and runs its models on the CPU provider.',
    registers,
    collect() {
      this.set(device.snapshot().fallback_reason === null ? 0 : 1);
    },
  });
  new Gauge({
    name: 'nnsam_node_runs_in_flight',
    help: 'Runs holding a slot (reading, segmenting or streaming their result).',
    registers,
    collect() {
      this.set(queue.running);
    },
  });
  new Gauge({
    name: 'nnsam_node_runs_queued',
    help: 'Admitted runs waiting for a free slot.',
    registers,
    collect() {
      this.set(queue.queued);
    },
  });
  return {
    registry,
    requests: new Counter({
      name: 'nnsam_node_requests_total',
      help: 'HTTP requests by route and response status.',
      labelNames: ['route', 'status'] as const,
      registers,
    }),
    requestDuration: new Histogram({
      name: 'nnsam_node_request_duration_seconds',
      help: 'Request duration until the response body ended, by route.',
      labelNames: ['route'] as const,
      buckets: DURATION_BUCKETS,
      registers,
    }),
    stage: new Histogram({
      name: 'nnsam_node_stage_seconds',
      help: 'Time spent in each stage of a run.',
      labelNames: ['stage'] as const,
      buckets: DURATION_BUCKETS,
      registers,
    }),
    rejected: new Counter({
      name: 'nnsam_node_rejected_total',
      help: 'Runs refused, before or after admission, by problem code.',
      labelNames: ['reason'] as const,
      registers,
    }),
    runFailures: new Counter({
      name: 'nnsam_node_run_failures_total',
      help: 'Admitted runs that ended with an error frame, by problem code.',
      labelNames: ['code'] as const,
      registers,
    }),
  };
}
