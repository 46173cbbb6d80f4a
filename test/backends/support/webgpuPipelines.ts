// The webgpu backend's compiled kernels by key, for tests that check which kernel ran.
import { backendByName } from '../../../src/core/backend.js';

/** The keys (and pipelines) of the kernels the webgpu backend has compiled so far. */
export const pipelines = () => (backendByName('webgpu') as unknown as { pipelines: Map<string, unknown> }).pipelines;
