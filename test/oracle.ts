// The oracle every backend in the test matrix is compared with: the float64 reference backend of
// examples/backend/, plain loops independent of every other backend's kernels. Free of the test
// runner, so the browser conformance page uses it too.
import { initBackend, listBackends, registerBackend } from '../src/index.js';
import { referencePlugin } from '../examples/backend/plugin.js';

/** The backend and dtype the suites compute the expected values with. */
export const ORACLE = { backend: 'reference', dtype: 'float64' } as const;

/** Registers (once) and creates the oracle's backend. */
export async function initOracle(): Promise<void> {
  if (!listBackends().includes(ORACLE.backend)) registerBackend(referencePlugin);
  await initBackend(ORACLE.backend);
}
