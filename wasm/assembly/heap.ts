// JS owns all memory above the static data: kernels never allocate, they take pointers to buffers
// (inputs, outputs, scratch) that the TypeScript wrapper reserved. This tells the wrapper where
// that free region starts.

/** First byte above the module's static data, 16-byte aligned. */
export function kernel_heap_base(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}
