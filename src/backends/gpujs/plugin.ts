import type { BackendPlugin } from '../../core/backend.js';
import { checkGpuJsOptions } from './options.js';

/**
 * The gpu.js backend as core registers it. Its options are checked at once; gpu.js and its GL
 * context load only when it is first created, so CPU-only users never import them.
 */
export const gpujsPlugin: BackendPlugin<'gpujs'> = {
  name: 'gpujs',
  checkOptions: checkGpuJsOptions,
  create: async (options) => (await import('./index.js')).createGpuJsBackend(options),
};
