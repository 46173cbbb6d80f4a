import type { BackendPlugin } from '../../core/backend.js';
import { checkWebGPUOptions } from './options.js';

/**
 * The WebGPU backend as core registers it. Its options are checked at once; its code and driver
 * load only when it is first created, so CPU-only users never import them.
 */
export const webgpuPlugin: BackendPlugin<'webgpu'> = {
  name: 'webgpu',
  checkOptions: checkWebGPUOptions,
  create: async (options) => (await import('./index.js')).createWebGPUBackend(options),
};
