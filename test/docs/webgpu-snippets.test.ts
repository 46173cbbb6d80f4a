import { defineBackendSnippets } from './backend-snippets.js';

defineBackendSnippets('webgpu', 'Install libegl-mesa0 libgles2 mesa-vulkan-drivers and set EGL_PLATFORM=surfaceless (or run on a machine with a GPU).');
