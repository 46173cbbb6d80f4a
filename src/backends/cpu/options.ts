// The CPU backend's public option and info types, in a file of their own, so the .d.ts files that
// name them (setBackend's options, getBackendInfo) do not pull in the kernels' WebAssembly declarations.
import { checkOptionChoices } from '../shared/options.js';

declare module '../../core/backend.js' {
  interface BackendOptions { cpu: CpuOptions }
  interface BackendInfos { cpu: CpuInfo }
}

/** Options of `setBackend('cpu', …)`. */
export interface CpuOptions {
  /**
   * Run float32 kernels in WebAssembly SIMD (default true where the engine has SIMD, unless the
   * environment variable TSGRAD_CPU_WASM=0); false keeps the plain-JavaScript path.
   */
  wasm?: boolean;
}

/** Which SIMD the kernels use: relaxed SIMD's fused multiply-add where the engine validates it. */
export type SimdFlavour = 'relaxed-simd' | 'simd128';

/** What `getBackendInfo('cpu')` reports. */
export interface CpuInfo {
  /** 'wasm': float32 kernels in WebAssembly; 'js': every kernel in plain JavaScript. */
  path: 'wasm' | 'js';
  /** The WebAssembly SIMD in use, or null on the JavaScript path. */
  simd: SimdFlavour | null;
  /** Threads a large matmul is split between, the calling one included. */
  threads: number;
  /**
   * Bytes of the WebAssembly memory in use: live float32 storages, freed blocks kept for the next
   * storage of their size, and the kernels' scratch. It never shrinks; 0 on the JavaScript path.
   */
  wasmBytes: number;
}

/** Refuses unknown option names and values, so a misspelt option is never silently ignored. */
export function checkCpuOptions(options: unknown): asserts options is CpuOptions {
  checkOptionChoices('cpu', options, { wasm: [true, false] }, '{ wasm: false }');
}
