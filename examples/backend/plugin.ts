import type { BackendPlugin } from '../../src/core/backend.js';
import { type ReferenceOptions, checkReferenceOptions } from './options.js';
import { ReferenceBackend } from './reference.js';

/**
 * The reference backend as core registers it: `registerBackend(referencePlugin)`, then
 * `await setBackend('reference')` or `initBackend('reference', { checkViews: false })`.
 */
export const referencePlugin = {
  name: 'reference',
  checkOptions: checkReferenceOptions,
  create: (options?: ReferenceOptions) => new ReferenceBackend(options),
} satisfies BackendPlugin<'reference'>;
