// WebGPU float32 against CPU float64 over random programs.
import { initBackend } from '../../src/index.js';
import { defineDifferential } from './suite.js';

defineDifferential('webgpu', {
  init: async () => void (await initBackend('webgpu')),
  requirement: 'Install the Debian/Ubuntu packages libegl-mesa0 libgles2 mesa-vulkan-drivers and set EGL_PLATFORM=surfaceless (or run on a machine with a GPU).',
  numRuns: 200,
});
