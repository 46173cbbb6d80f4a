// The reference backend's options, declared into core's registry by declaration merging, so
// `setBackend('reference', { … })` is type-checked. Its info is not declared into
// `BackendInfos`: that would add it to the union `getBackendInfo()` returns, and every program
// that tells the current backend apart by name would need a case for a backend only tests use.
import { checkOptionChoices } from '../../src/backends/shared/options.js';

declare module '../../src/core/backend.js' {
  interface BackendOptions { reference: ReferenceOptions }
}

/** Options of `setBackend('reference', …)`. */
export interface ReferenceOptions {
  /**
   * Check that every view a primitive is given lies inside its storage, and throw a TsgradError
   * naming the primitive otherwise (default true): faster backends would read a neighbour.
   */
  checkViews?: boolean;
}

/** What `getBackendInfo('reference')` reports. */
export interface ReferenceInfo {
  checkViews: boolean;
}

/** Refuses unknown option names and values, as every backend does (the shared kit's check). */
export function checkReferenceOptions(options: unknown): asserts options is ReferenceOptions {
  checkOptionChoices('reference', options, { checkViews: [true, false] }, '{ checkViews: false }');
}
