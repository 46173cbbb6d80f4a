// The playground: served by `npm run web`, built by `npm run build:web` into dist/web as static files.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { browserTwinsVite } from '../scripts/browser-twins.js';
import { codeMarksVite } from '../scripts/code-marks.js';
import { datasetExcerpts } from './excerpts.js';

const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  resolve: { alias: { tsgrad: fileURLToPath(new URL('../src/index.ts', import.meta.url)) } },
  plugins: [browserTwinsVite(), codeMarksVite(), datasetExcerpts()],
  build: { outDir: '../dist/web', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 1024 },
  // Cross-origin isolation gives the page SharedArrayBuffer, so the CPU backend can use Web Workers.
  server: { host: '127.0.0.1', headers: ISOLATION },
  preview: { host: '127.0.0.1', headers: ISOLATION },
});
