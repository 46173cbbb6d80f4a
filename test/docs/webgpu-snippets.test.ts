import { defineBackendSnippets } from './backend-snippets.js';

defineBackendSnippets('webgpu');
