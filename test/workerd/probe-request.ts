import type { ResampleOptions } from '../../wasm/src/resample.js';
import type { Shape3, Spacing3 } from '../../wasm/src/shape.js';

/** One kernel call: inputs as base64 little-endian arrays. */
export interface ProbeRequest {
  kernel: 'resample' | 'resample-labels' | 'edt' | 'signed-distance' | 'components';
  data: string;
  shape: Shape3;
  newShape?: Shape3;
  spacing?: Spacing3;
  options?: ResampleOptions;
}
