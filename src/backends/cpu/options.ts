// The CPU backend's public option type, in a file of its own, so the .d.ts files that name it
// (setBackend's typed options) do not pull in the WebAssembly declarations of the kernels.

/** Options of `setBackend('cpu', …)`. */
export interface CpuOptions {
  /**
   * Run float32 kernels in WebAssembly SIMD (default true where the engine has SIMD, unless the
   * environment variable TSGRAD_CPU_WASM=0); false keeps the plain-JavaScript path.
   */
  wasm?: boolean;
}
