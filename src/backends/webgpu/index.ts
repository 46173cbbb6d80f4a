import type { BackendImplementation } from '../../core/backend.js';
import { backendByName } from '../../core/backend.js';
import { TsgradError } from '../../core/errors.js';
import { WebGPUBackend } from './backend.js';
import { type WebGPUOptions as DeviceOptions, acquireDevice } from './device.js';
import type { WebGPUInfo, WebGPUOptions } from './options.js';

export { WebGPUBackend } from './backend.js';
export type { WebGPUInfo, WebGPUOptions } from './options.js';

/**
 * Creates the WebGPU backend (what `setBackend('webgpu', options)` calls, once its plugin has
 * checked the options): a real GPU when one is found, else Mesa llvmpipe through Dawn's OpenGL
 * ES backend, or the device you pass.
 *
 * @example
 * await setBackend('webgpu', { powerPreference: 'high-performance' });
 */
export async function createWebGPUBackend(options: WebGPUOptions = {}): Promise<BackendImplementation> {
  const { device, info, owned } = await acquireDevice(options as DeviceOptions);
  return new WebGPUBackend(device, info, owned, options.checkIndices ?? developmentMode());
}

/** True unless NODE_ENV is 'production' (in Node, or a bundler's process.env). */
function developmentMode(): boolean {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.['NODE_ENV'] !== 'production';
}

/**
 * What the initialized webgpu backend runs on: adapter, Dawn backend, feature level, limits.
 *
 * @example
 * await setBackend('webgpu'); console.log(webgpuInfo().description);
 */
export function webgpuInfo(): WebGPUInfo {
  const b = backendByName('webgpu') as unknown as { info?: WebGPUInfo };
  if (!b.info) throw new TsgradError('webgpuInfo', `backend 'webgpu' is not the WebGPU backend`);
  return b.info;
}
