import { defineBackendSnippets } from './backend-snippets.js';

defineBackendSnippets('gpujs', "Start an X display (Xvfb) and export DISPLAY, and build the 'gl' addon (npm rebuild gl).");
