import { checkOptionChoices } from '../shared/options.js';

// The public types of the gpu.js backend, in a file of their own, so the options can be checked
// and typed without loading gpu.js or a GL context.

declare module '../../core/backend.js' {
  interface BackendOptions { gpujs: GpuJsOptions }
  interface BackendInfos { gpujs: GpuJsInfo }
}

/** Where gpu.js runs its kernels: WebGL ('gpu'), or its CPU paths. */
export type GpuJsMode = 'gpu' | 'cpu' | 'webasm';

/** Options of `setBackend('gpujs', ...)`. */
export interface GpuJsOptions {
  /**
   * 'gpu' (default): WebGL through headless-gl in Node (needs an X display) or the browser's
   * WebGL; an error if unavailable. 'cpu' and 'webasm' are gpu.js's CPU paths, opt-in only.
   */
  mode?: GpuJsMode;
}

/** What the backend runs on, for logs and tests. */
export interface GpuJsInfo {
  mode: GpuJsMode;
  /** The gpu.js kernel class that runs: HeadlessGLKernel, WebGL2Kernel, WebGLKernel, CPUKernel, WebAssemblyKernel. */
  kernelType: string;
  renderer: string;
  maxTextureSize: number;
  /** Largest element count a storage may hold (float index arithmetic in GLSL). */
  maxElements: number;
}

/** Refuses unknown option names and values, so a misspelt option is never silently ignored. */
export function checkGpuJsOptions(options: unknown): asserts options is GpuJsOptions {
  checkOptionChoices('gpujs', options, { mode: ['gpu', 'cpu', 'webasm'] }, "{ mode: 'cpu' }");
}
