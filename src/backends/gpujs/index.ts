import type { Backend } from '../../core/backend.js';
import { TsgradError } from '../../core/errors.js';

export async function createGpuJsBackend(_options?: Record<string, unknown>): Promise<Backend> {
  throw new TsgradError('setBackend', 'the gpujs backend is not built yet');
}
