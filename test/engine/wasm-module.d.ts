// The Node tsconfig's view of `*.wasm` imports, which only test/engine/ort-probe.ts (a Worker run
// in workerd) makes; the Worker's own program has it from worker/worker-configuration.d.ts.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
