// The fuzz suite on the WebGPU backend (Dawn; Mesa llvmpipe without a GPU). Fewer runs: every
// call is a dispatch and a readback.
import { initBackend } from '../../src/index.js';
import { defineFuzz } from './suite.js';

defineFuzz('webgpu', {
  init: async () => void (await initBackend('webgpu')),
  requirement: 'Install the Debian/Ubuntu packages libegl-mesa0 libgles2 mesa-vulkan-drivers and set EGL_PLATFORM=surfaceless (or run on a machine with a GPU).',
  numRuns: 300,
});
