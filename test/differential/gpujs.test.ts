// gpu.js float32 against CPU float64 over random programs.
import { initBackend } from '../../src/index.js';
import { defineDifferential } from './suite.js';

defineDifferential('gpujs', {
  init: async () => void (await initBackend('gpujs')),
  requirement: 'The gpu.js backend needs the `gl` package built (headless-gl) and an X display or EGL: run under xvfb-run or set DISPLAY.',
  numRuns: 60,
});
