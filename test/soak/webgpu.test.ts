// The CI soak on the WebGPU backend.
import { defineSoak } from './suite.js';

defineSoak('webgpu', 'Install the Debian/Ubuntu packages libegl-mesa0 libgles2 mesa-vulkan-drivers and set EGL_PLATFORM=surfaceless (or run on a machine with a GPU).');
