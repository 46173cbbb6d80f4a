import { checkOptionChoices } from '../shared/options.js';

// The public types of the WebGPU backend, written without the WebGPU type declarations, so the
// .d.ts files a CPU-only user compiles never name GPUDevice (they would need a DOM lib and
// @webgpu/types to check them).

declare module '../../core/backend.js' {
  interface BackendOptions { webgpu: WebGPUOptions }
  interface BackendInfos { webgpu: WebGPUInfo }
}

/** Options of `setBackend('webgpu', options)`. */
export interface WebGPUOptions {
  /** Use this GPUDevice instead of finding one (the caller keeps ownership of its lifetime). */
  device?: object;
  powerPreference?: 'low-power' | 'high-performance';
  /**
   * Which Dawn backend to try in Node: `'auto'` (default: the platform's native GPU API, then
   * OpenGL ES in compatibility mode), `'native'` or `'opengles'` only.
   */
  dawnBackend?: 'auto' | 'native' | 'opengles';
  /**
   * Checked indexing: an out-of-range index given to gather (and so to indexSelect, embedding,
   * crossEntropy) makes the next read throw a TsgradError naming it, instead of yielding NaN.
   * On by default unless NODE_ENV is 'production'; it costs one 16-byte readback per read.
   */
  checkIndices?: boolean;
}

/** What the backend found and runs on, for logs and bug reports. */
export interface WebGPUInfo {
  vendor: string;
  architecture: string;
  /** The adapter's device name, e.g. `llvmpipe-llvm-15-0-6-256-bits-`. */
  device: string;
  description: string;
  /** Dawn's backend (`vulkan`, `metal`, `d3d12`, `opengles`...) or `browser`/`user-device`. */
  backendType: string;
  featureLevel: 'core' | 'compatibility';
  /** True for a software adapter (llvmpipe/lavapipe/SwiftShader). */
  software: boolean;
  /** The device limits the kernels were sized for. */
  limits: Record<string, number>;
}

/** Refuses unknown option names and values, so a misspelt option is never silently ignored. */
export function checkWebGPUOptions(options: unknown): asserts options is WebGPUOptions {
  checkOptionChoices('webgpu', options, {
    powerPreference: ['low-power', 'high-performance'],
    dawnBackend: ['auto', 'native', 'opengles'],
    checkIndices: [true, false],
  }, "{ powerPreference: 'high-performance' }", {
    device: (v) => (typeof v === 'object' && v !== null && 'queue' in v ? null : 'must be a GPUDevice'),
  });
}
