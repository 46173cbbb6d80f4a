// The playground: served by `npm run web`, built by `npm run build:web` into dist/web as static files.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { browserTwinsVite } from '../scripts/browser-twins.js';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  resolve: { alias: { tsgrad: fileURLToPath(new URL('../src/index.ts', import.meta.url)) } },
  plugins: [browserTwinsVite()],
  build: { outDir: '../dist/web', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 1024 },
  server: { host: '127.0.0.1' },
});
