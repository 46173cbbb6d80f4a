import type { BackendPlugin } from '../../core/backend.js';
import { CpuBackend } from './index.js';
import { type CpuOptions, checkCpuOptions } from './options.js';

/** The CPU backend as core registers it: created synchronously, so it can be ready at import. */
export const cpuPlugin = {
  name: 'cpu',
  checkOptions: checkCpuOptions,
  create: (options?: CpuOptions) => new CpuBackend(options),
} satisfies BackendPlugin<'cpu'>;
