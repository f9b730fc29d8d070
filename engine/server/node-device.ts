/**
 * @module
 * What an inference node runs on, as `/healthz` and `/metrics` report it: the device it was started
 * with, the WebGPU adapter Dawn finds (WebGPU nodes only), and whether its models fell back to the
 * CPU provider. A WebGPU node without an adapter reports the fallback from the start; one with an
 * adapter reports it as soon as a model session falls back.
 */
import type { SliceBackendInfo } from '../inference/slice-backend.js';
import type { GpuAdapterInfo, NodeDevice } from '../protocol/node-health.js';
import { probeGpuAdapter } from '../runtime/gpu-adapter.js';
import type { Device, RuntimeInfo } from '../runtime/runtime.js';

/** The device state of one node app. */
export class NodeDeviceState {
  private adapter: GpuAdapterInfo | null = null;
  private provider: Device;
  private fallbackReason: string | null = null;
  private slices: NodeDevice['slices'];
  /** Resolves once the adapter has been asked for (at once on CPU and WASM nodes). */
  readonly ready: Promise<void>;

  constructor(readonly requested: Device) {
    this.provider = requested;
    this.ready = requested === 'webgpu' ? this.probe() : Promise.resolve();
  }

  private async probe(): Promise<void> {
    const p = await probeGpuAdapter();
    this.adapter = p.adapter;
    if (!p.adapter) this.fellBack(p.error);
  }

  /** Takes note of the runtime a run got: a session that fell back turns the node into a CPU node. */
  observe(info: RuntimeInfo): void {
    if (info.fallbackReason) this.fellBack(info.fallbackReason);
  }

  /** Takes note of where a run's slice steps ran, so a GPU node whose kernels fell back says so. */
  observeSlices(info: SliceBackendInfo): void {
    this.slices = { kind: info.kind, fallback_reason: info.fallbackReason ?? null };
  }

  private fellBack(reason: string): void {
    this.provider = 'cpu';
    this.fallbackReason = reason;
  }

  /** The state as `/healthz` reports it. */
  snapshot(): NodeDevice {
    return {
      requested: this.requested,
      provider: this.provider,
      adapter: this.adapter,
      fallback_reason: this.fallbackReason,
      ...(this.slices && { slices: this.slices }),
    };
  }
}
