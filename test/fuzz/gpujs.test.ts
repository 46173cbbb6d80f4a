// The fuzz suite on the gpu.js backend (headless-gl in Node).
import { initBackend } from '../../src/index.js';
import { defineFuzz } from './suite.js';

defineFuzz('gpujs', {
  init: async () => void (await initBackend('gpujs')),
  requirement: 'The gpu.js backend needs the `gl` package built (headless-gl) and an X display or EGL: run under xvfb-run or set DISPLAY.',
  numRuns: 150,
});
